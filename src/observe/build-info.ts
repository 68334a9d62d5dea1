import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** corral's package.json: two folders up from src/observe/, three from dist/src/observe/. */
const candidates = ['../../package.json', '../../../package.json'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

const pkg = readPackage();

/** What is running: corral's version and the node runtime's. */
export const BUILD = {
  version: pkg?.version ?? 'unknown',
  node: process.version,
};

function readPackage(): { version?: string; engines?: { node?: string } } | null {
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const json = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string; engines?: { node?: string } };
    if (json.name === 'corral') return json;
  }
  return null;
}

/**
 * The oldest node corral supports, from package.json's engines (>=24.21: the first whose
 * HTTP/2 keeps metadata values with leading or trailing spaces).
 */
export const MIN_NODE = (/(\d+)\.(\d+)/.exec(pkg?.engines?.node ?? '') ?? ['', '24', '21']).slice(1, 3).map(Number) as [number, number];

export function nodeIsSupported(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}
