// Preloaded into corral by a test (node --import): on SIGUSR2, writes to $LOADED_PACKAGES_OUT
// the npm packages the process has loaded so far, one per line.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const loaded = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url);
    if (m) loaded.add(m[1]);
    return resolved;
  },
});
process.on('SIGUSR2', () => writeFileSync(process.env.LOADED_PACKAGES_OUT, [...loaded].sort().join('\n') + '\n'));
