/**
 * Shutdown as Kubernetes drives it: SHUTDOWN_DELAY keeps serving after SIGTERM while
 * /ready says 503, calls still open when SHUTDOWN_GRACE ends get UNAVAILABLE with a
 * message, and a second signal exits at once.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startProxy, type Backend } from '../../cmd/processes.js';
import { client, collect, grpc, release, unary, until } from '../support/grpc.js';

let backend: Backend;
beforeAll(async () => {
  backend = await startBackend();
});
afterAll(() => backend?.stop());

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });

describe('SHUTDOWN_DELAY', () => {
  it('turns /ready to 503 at once, serves new connections and calls during the delay, then drains and exits 0', async () => {
    const p = await startProxy({ BACKEND_ADDRESS: backend.address, SHUTDOWN_DELAY: '1500ms' });
    try {
      await until('ready', async () => (await p.admin('/ready')).status === 200);
      p.child.kill('SIGTERM');
      await until('/ready says 503', async () => (await p.admin('/ready')).status === 503, 1000);
      // A client that connects only now, during the delay, is served as usual.
      const late = client(p.address);
      try {
        const r = await unary(late, 'Lookup', { key: 'during-delay' });
        expect(r.error).toBeNull();
        expect(r.reply.key).toBe('during-delay');
      } finally {
        late.close();
      }
      expect(p.child.exitCode).toBeNull();
      await until('corral stops listening after the delay', async () => !(await accepts(p.grpcPort)), 5000);
      expect(await p.exited).toBe(0);
    } finally {
      await p.stop();
    }
  });
});

describe('SHUTDOWN_GRACE', () => {
  it('ends the calls still open with UNAVAILABLE naming SHUTDOWN_GRACE, never INTERNAL or a bare reset', async () => {
    const p = await startProxy({ BACKEND_ADDRESS: backend.address, SHUTDOWN_GRACE: '300ms' });
    const c = client(p.address);
    try {
      const unaries = Array.from({ length: 3 }, (_, i) => unary(c, 'Lookup', { key: `grace-${i}`, gate: 'never-opened' }));
      const watch = collect(c.Watch({ topic: 'grace', count: 1, gate: 'never-opened' }));
      const chat = c.Chat();
      const chatDone = collect(chat);
      chat.write({ text: 'hello' });
      await until('every call is under way', async () => (await p.metric('corral_calls_in_progress')) >= 5);
      p.child.kill('SIGTERM');
      const results = [...(await Promise.all(unaries)).map((r) => r.error), (await watch).error, (await chatDone).error];
      for (const err of results) {
        expect(err?.code).toBe(grpc.status.UNAVAILABLE);
        expect(err?.details).toBe('corral shut down: the call was still open when SHUTDOWN_GRACE (300ms) ended');
      }
      expect(await p.exited).toBe(0);
    } finally {
      c.close();
      await p.stop();
      await release(backend.address, 'never-opened');
    }
  });

  it('a second signal exits at once', async () => {
    const p = await startProxy({ BACKEND_ADDRESS: backend.address, SHUTDOWN_GRACE: '60s' });
    const c = client(p.address);
    try {
      void unary(c, 'Lookup', { key: 'second-signal', gate: 'second-signal' });
      await until('the call is under way', async () => (await p.metric('corral_calls_in_progress')) >= 1);
      p.child.kill('SIGTERM');
      await until('draining', async () => p.lines.some((l) => l.includes('"draining"')));
      await new Promise((resolve) => setTimeout(resolve, 1100));
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(1);
      expect(p.lines.some((l) => l.includes('second signal: exiting at once'))).toBe(true);
    } finally {
      c.close();
      await p.stop();
      await release(backend.address, 'second-signal');
    }
  });
});

describe('a signal sent to the whole process group', () => {
  it('arriving twice within a second (from the kernel, and forwarded by npm or a shell) drains once: the call in flight completes', async () => {
    const p = await startProxy({ BACKEND_ADDRESS: backend.address, SHUTDOWN_GRACE: '60s' });
    const c = client(p.address);
    try {
      const call = unary(c, 'Lookup', { key: 'echoed-signal', gate: 'echoed-signal' });
      await until('the call is under way', async () => (await p.metric('corral_calls_in_progress')) >= 1);
      p.child.kill('SIGINT');
      // Apart, or the kernel merges the two into one pending signal.
      await new Promise((resolve) => setTimeout(resolve, 150));
      p.child.kill('SIGINT');
      await until('draining', async () => p.lines.some((l) => l.includes('"draining"')));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(p.child.exitCode).toBeNull();
      expect(await release(backend.address, 'echoed-signal')).toBe(1);
      const r = await call;
      expect(r.error).toBeNull();
      expect(r.reply.key).toBe('echoed-signal');
      expect(await p.exited).toBe(0);
      expect(p.lines.some((l) => l.includes('already shutting down'))).toBe(true);
    } finally {
      c.close();
      await p.stop();
      await release(backend.address, 'echoed-signal');
    }
  });
});

describe('npm start', () => {
  it('leaves no corral running when npm gets SIGTERM', async () => {
    const repo = fileURLToPath(new URL('../..', import.meta.url));
    const npm = spawn('npm', ['start'], {
      cwd: repo,
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, BACKEND_ADDRESS: backend.address, GRPC_PORT: '0', METRICS_PORT: '0', ADMIN_PORT: '0', LISTEN_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      let out = '';
      npm.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await until('corral listens', async () => out.includes('corral listening'));
      const port = Number(/"metricsPort":(\d+)/.exec(out)![1]);
      expect(await accepts(port)).toBe(true);
      npm.kill('SIGTERM');
      await once(npm, 'exit');
      await until('corral is gone', async () => !(await accepts(port)), 5000);
      expect(out).toContain('"stopped"');
    } finally {
      npm.kill('SIGKILL');
    }
  });
});
