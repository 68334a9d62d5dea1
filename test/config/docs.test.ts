/**
 * What the docs say that a machine can check: every variable corral reads is in
 * docs/configuration.md and in --help (both made from src/config/variables.ts), the
 * reference is the table as it stands, no doc names a variable corral does not read, and
 * every message README.md and docs/ quote is one corral prints.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { proxyExit } from '../../cmd/processes.js';
import { VARIABLE_NAMES } from '../../src/config/environment.js';
import { ALSO_OURS, OUR_PREFIXES } from '../../src/config/unknown-variables.js';
import { VARIABLES, variablesReference } from '../../src/config/variables.js';

const root = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const documented = VARIABLES.flatMap((g) => g.variables.flatMap((v) => v.names));
/** Every variable corral or bin/corral reads. */
const READ = [...VARIABLE_NAMES, ...ALSO_OURS];
/** Names the docs give as examples of what corral does not read: Kubernetes' service links, proxies, a typo it refuses. */
const FOREIGN = /^(BACKEND_SERVICE_HOST|CORRAL_PORT|METRICS_PORT_\d+_TCP(_ADDR)?|HTTP_PROXY|[A-Z_]+_SERVICE_(HOST|PORT)\w*|COLLAPSER_SKIP_METHOD)$/;

/** The text of every file under `dir` with one of `extensions`. */
function sources(dir: string, extensions: string[]): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && extensions.some((e) => entry.name.endsWith(e))) out.push(readFileSync(join(entry.parentPath, entry.name), 'utf8'));
  }
  return out;
}

describe('the configuration reference', () => {
  it('documents every variable corral reads, and none it does not', () => {
    const undocumented = READ.filter((name) => !documented.includes(name) && !VARIABLES.some((g) => g.variables.some((v) => v.meaning.includes(`\`${name}\``))));
    expect(undocumented).toEqual([]);
    expect(documented.filter((name) => !READ.includes(name) && !name.startsWith('OTEL_'))).toEqual([]);
  });

  it('is the table in src/config/variables.ts as it stands (tools/config-reference.mjs writes it)', () => {
    const text = read('docs/configuration.md');
    const begin = text.indexOf('<!-- variables:');
    const end = text.indexOf('<!-- end of variables -->');
    expect(begin).toBeGreaterThan(0);
    expect(text.slice(text.indexOf('\n', begin) + 1, end).trim()).toBe(variablesReference().trim());
  });

  it('--help lists every variable, grouped', async () => {
    const { code, stdout } = await proxyExit({}, ['--help']);
    expect(code).toBe(0);
    expect(READ.filter((name) => !stdout.includes(name))).toEqual([]);
    for (const group of VARIABLES) expect(stdout).toContain(`\n${group.title}:\n`);
  });

  it('names in README.md and docs/ only variables corral reads', () => {
    const named = new Set<string>();
    for (const path of docs) {
      for (const [, name] of read(path).matchAll(/`([A-Z][A-Z0-9_]{3,})(?:=[^`]*)?`/g)) {
        if (OUR_PREFIXES.some((p) => name!.startsWith(p)) && !name!.endsWith('_')) named.add(`${path}: ${name}`);
      }
    }
    expect([...named].filter((n) => { const name = n.split(': ')[1]!; return !READ.includes(name) && !FOREIGN.test(name); })).toEqual([]);
  });
});

describe('quoted messages', () => {
  // A message is quoted in backticks: a lower-case sentence of three words or more ("..." stands
  // for what varies). Not one: a command, a directive of another program (its first word has
  // an underscore), `key: value` syntax, a formula.
  const COMMANDS = /^(npm|make|node|curl|kubectl|promtool|bin\/corral|corral|git|docker|h2load|etcd|etcdctl|python3|sudo|apt-get|buf|listen|kill|pkill)\b/;
  const notAMessage = (quote: string): boolean =>
    quote.split(' ').length < 3 || COMMANDS.test(quote) || /^[\w.-]+:\s/.test(quote) || /^\w*_/.test(quote) || /[=<>{}|$×]/.test(quote);
  // Code, not comments: a comment may say anything.
  const lines = [...sources('src', ['.ts']), ...sources('cmd', ['.ts'])].flatMap((text) => text.split('\n')).filter((l) => !/^\s*(\/\/|\/?\*)/.test(l));
  // Each part between two "..." is written, as it is, on one line of the source.
  const prints = (quote: string): boolean =>
    quote
      .split('...')
      .map((p) => p.trim())
      .filter((p) => p !== '')
      .every((piece) => lines.some((line) => line.includes(piece)));

  it('every message README.md and docs/ quote is one corral prints', () => {
    const unprinted: string[] = [];
    for (const path of docs) {
      const prose = read(path).replace(/^```[\s\S]*?^```/gm, '');
      for (const [, span] of prose.matchAll(/`([a-z][^`]*)`/g)) {
        const quote = span!.replace(/\s+/g, ' ');
        if (notAMessage(quote)) continue;
        if (!prints(quote)) unprinted.push(`${path}: ${quote}`);
      }
    }
    expect(unprinted).toEqual([]);
  });
});
