import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** corral's package.json: two folders up from src/observe/, three from dist/src/observe/. */
const candidates = ['../../package.json', '../../../package.json'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

/** What is running: corral's version and the node runtime's. */
export const BUILD = {
  version: readVersion(),
  node: process.version,
};

function readVersion(): string {
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'corral' && pkg.version !== undefined) return pkg.version;
  }
  return 'unknown';
}

/** The oldest node whose HTTP/2 keeps metadata values with leading or trailing spaces (strictFieldWhitespaceValidation). */
export const MIN_NODE = [24, 21] as const;

export function nodeIsSupported(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}
