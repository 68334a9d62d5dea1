/**
 * corral's memory at rest, as it ships (bin/corral and its V8 flags), in front of the
 * echo backend: RSS some seconds after start, split into what is the process's own
 * (anonymous: the V8 heap, malloc) and what is mapped from files (the node binary and its
 * libraries, shared with every process that maps them). Two settings: the defaults
 * (server reflection on) and with reflection off and the methods listed.
 *   node dist/bench/idle-memory.js
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EVERY_METHOD, startProcess, startProxy } from '../cmd/processes.js';
import { echoJs } from './e2e.js';

export interface IdleRss {
  setting: string;
  seconds: number;
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
}

const SETTINGS: Array<{ setting: string; env: Record<string, string> }> = [
  { setting: 'BACKEND_ADDRESS only (server reflection on)', env: {} },
  { setting: 'COLLAPSER_METHODS=* COLLAPSER_REFLECTION=off', env: EVERY_METHOD },
];

export async function idleRss(seconds = 5): Promise<IdleRss[]> {
  const out: IdleRss[] = [];
  for (const s of SETTINGS) {
    const echo = await startProcess(echoJs, ['0'], process.env, 'echo listening');
    try {
      const proxy = await startProxy({ ...s.env, BACKEND_ADDRESS: `127.0.0.1:${echo.ready.port as number}` });
      try {
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const status = readFileSync(`/proc/${proxy.child.pid}/status`, 'utf8');
        const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
        out.push({ setting: s.setting, seconds, rssMiB: kib('VmRSS'), anonMiB: kib('RssAnon'), fileMiB: kib('RssFile') });
      } finally {
        await proxy.stop();
      }
    } finally {
      await echo.stop();
    }
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await idleRss()) console.log(`${r.setting}: RSS ${r.rssMiB.toFixed(1)} MiB (own ${r.anonMiB.toFixed(1)}, files ${r.fileMiB.toFixed(1)})`);
}
