#!/usr/bin/env node
/**
 * The demo: starts the example backend (each Lookup takes 200ms) and corral in front of
 * it, fires a herd of identical calls straight at the backend and then through corral,
 * prints what the backend saw each time, then stops everything.
 *
 *   node dist/cmd/demo.js [--requests 1000]
 */
import { parseArgs } from 'node:util';
import { formatHerd, runHerd } from './client.js';
import { startBackend, startProxy, type Started } from './processes.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '1000' } } });
const started: Started[] = [];
try {
  const backend = await startBackend();
  started.push(backend);
  const proxy = await startProxy({ BACKEND_ADDRESS: backend.address });
  started.push(proxy);
  console.log(`example backend on ${backend.address}, corral on ${proxy.address} (metrics on :${proxy.metricsPort})`);
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
  console.log(`\ncorral metrics      leader ${leaders} (herd + 2 stats calls), follower ${followers}, cache hit ${hits}`);
  console.log(`\nbackend calls: ${direct.backendCalls} without corral, ${result.backendCalls} with corral`);
  process.exitCode = result.ok === result.requests ? 0 : 1;
} finally {
  for (const p of started.reverse()) await p.stop();
}
