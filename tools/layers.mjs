#!/usr/bin/env node
// The import graph of src/'s folders: prints each folder's imports and every cycle
// (strongly connected group of folders); exits 1 when there is one, when a file other
// than the allowed ones imports node:http2, or when a folder of the call path imports one
// the call went through before it. Files directly in src/ count as the folder ".".
//   node tools/layers.mjs [--quiet]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..', 'src');
// The gRPC front (server/), the HTTP/JSON front, and the transport to the backends.
const HTTP2_ALLOWED = (file) => file.startsWith('server/') || file.startsWith('transport/') || file === 'http/gateway.ts';
// A call's way down, folder by folder: each may import only folders after it, so the call
// never swings back up (the backend half: the concurrency limit, the retry policy, the cluster, the balancer, the transport).
const CALL_PATH = ['server', 'route', 'auth', 'collapse', 'admission', 'upstream', 'cluster', 'balance', 'transport'];

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

const folderOf = (file) => {
  const rel = relative(root, file);
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '.';
};

const edges = new Map();
const http2 = [];
let longest = { file: '', lines: 0 };
for (const file of files(root)) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length;
  if (lines > longest.lines) longest = { file: relative(root, file), lines };
  const from = folderOf(file);
  if (!edges.has(from)) edges.set(from, new Set());
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
    const spec = m[1];
    if (spec === 'node:http2' || spec === 'http2') {
      if (!HTTP2_ALLOWED(relative(root, file))) http2.push(relative(root, file));
      continue;
    }
    if (!spec.startsWith('.')) continue;
    const to = folderOf(resolve(dirname(file), spec));
    if (to !== from) edges.get(from).add(to);
  }
}

// Tarjan's strongly connected components.
let index = 0;
const stack = [];
const info = new Map();
const groups = [];
function visit(v) {
  info.set(v, { index, low: index, on: true });
  index++;
  stack.push(v);
  for (const w of edges.get(v) ?? []) {
    if (!info.has(w)) {
      visit(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).on) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
  }
  if (info.get(v).low === info.get(v).index) {
    const group = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).on = false;
      group.push(w);
    } while (w !== v);
    if (group.length > 1) groups.push(group.sort());
  }
}
for (const v of edges.keys()) if (!info.has(v)) visit(v);

const upward = [];
for (const [i, from] of CALL_PATH.entries()) {
  for (const to of edges.get(from) ?? []) if (CALL_PATH.indexOf(to) >= 0 && CALL_PATH.indexOf(to) < i) upward.push(`${from} -> ${to}`);
}

const pairs = [];
for (const [a, tos] of edges) for (const b of tos) if (a < b && edges.get(b)?.has(a)) pairs.push(`${a}<->${b}`);

if (!process.argv.includes('--quiet')) {
  for (const [from, tos] of [...edges].sort()) console.log(`${from.padEnd(12)} -> ${[...tos].sort().join(', ')}`);
}
console.log(`folders: ${edges.size}; cycles: ${groups.length === 0 ? 'none' : groups.map((g) => `{${g.join(', ')}}`).join(' ')}; mutual pairs: ${pairs.length === 0 ? 'none' : pairs.join(' ')}`);
console.log(`node:http2 outside the fronts and the transport: ${http2.length === 0 ? 'none' : http2.join(', ')}`);
console.log(`call path ${CALL_PATH.join(' > ')}: ${upward.length === 0 ? 'each folder imports only those after it' : `imports back up: ${upward.join(', ')}`}`);
console.log(`longest file: ${longest.file} (${longest.lines} lines); main.ts: ${readFileSync(join(root, 'main.ts'), 'utf8').split('\n').length} lines`);
process.exitCode = groups.length > 0 || http2.length > 0 || upward.length > 0 ? 1 : 0;
