#!/usr/bin/env node
/**
 * The demo: starts the example backend (each Lookup takes 200ms) and corral in front of
 * it, fires a herd of identical calls straight at the backend and then through corral,
 * prints what the backend saw each time, then stops everything.
 *
 *   node dist/cmd/demo.js [--requests 1000]
 */
import { parseArgs } from 'node:util';
import { formatHerd, runHerd, runWrites } from './client.js';
import { startBackend, startProxy, type Started } from './processes.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '1000' } } });
const started: Started[] = [];
try {
  const backend = await startBackend();
  started.push(backend);
  // Nothing but the backend's address: corral learns over server reflection that Lookup is
  // declared NO_SIDE_EFFECTS (cmd/proto/example.proto), and /ready waits until it has asked.
  const proxy = await startProxy({ BACKEND_ADDRESS: backend.address });
  started.push(proxy);
  await proxy.untilReady();
  console.log(`example backend on ${backend.address}, corral on ${proxy.address} (metrics on :${proxy.metricsPort}), configured with BACKEND_ADDRESS only`);
  const requests = Number(values.requests);
  console.log(`\n== ${requests} concurrent identical Lookup calls (200ms each on the backend), straight to the backend ==`);
  const direct = await runHerd(backend.address, requests, 200, `direct-${Date.now()}`);
  console.log(formatHerd(direct));
  console.log(`\n== the same herd through corral ==`);
  const result = await runHerd(proxy.address, requests, 200, `demo-${Date.now()}`);
  console.log(formatHerd(result));
  const leaders = await proxy.metric('corral_requests_total{outcome="leader"}');
  const followers = await proxy.metric('corral_requests_total{outcome="follower"}');
  const hits = await proxy.metric('corral_requests_total{outcome="cache_hit"}');
  console.log(`\ncorral metrics      leader ${leaders}, follower ${followers}, cache hit ${hits}`);
  const writes = 20;
  console.log(`\n== ${writes} concurrent identical Release calls through corral (a write, declared IDEMPOTENT, not NO_SIDE_EFFECTS) ==`);
  const written = await runWrites(proxy.address, writes, `demo-${Date.now()}`);
  console.log(`the backend saw ${written} of ${writes}: passed through, none merged`);
  console.log(`\nbackend calls: ${direct.backendCalls} without corral, ${result.backendCalls} with corral`);
  process.exitCode = result.ok === result.requests && written === writes ? 0 : 1;
} finally {
  for (const p of started.reverse()) await p.stop();
}
