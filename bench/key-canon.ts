/**
 * What keys that leave fields out cost (tinybench): the collapse key of a GetPrice request
 * (a request id, a trace span, a map of three labels; cmd/proto/example.proto) made as
 * sent, made canonical (the request decoded, the ignored fields cleared, the map sorted,
 * written again), and a Lookup request's key with the same KeyCanon in place (its method
 * has nothing to ignore and no map: one lookup).
 *   node dist/bench/key-canon.js
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { Bench } from 'tinybench';
import { DeclaredReads } from '../src/collapse/declared-reads.js';
import { KeyCanon } from '../src/collapse/key-canon.js';
import { KeyMaker } from '../src/collapse/key.js';
import { Descriptors } from '../src/http/descriptors.js';
import { encodeFrame } from '../src/wire/frame.js';

const protoDir = fileURLToPath(new URL('../../cmd/proto', import.meta.url));
const descriptors = await Descriptors.load({ protoPaths: [protoDir], protoFiles: [`${protoDir}/example.proto`], descriptorSet: undefined });
const declared = new DeclaredReads(descriptors.registry);
const root = protobuf.loadSync(`${protoDir}/example.proto`);
const encode = (type: string, value: object) => encodeFrame(root.lookupType(type).encode(root.lookupType(type).fromObject(value)).finish());

const price = encode('corral.example.v1.PriceRequest', { sku: 'sku-1', requestId: 'req-8f14e45f', labels: { region: 'eu', tier: 'gold', channel: 'web' }, trace: { traceId: 'abc', spanId: 'def' } });
const lookup = encode('corral.example.v1.LookupRequest', { key: 'k-1' });
const metadata = { ':authority': 'corral:50052', 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'grpc-node-js/1.14.7', authorization: 'Bearer x' };
const GET_PRICE = '/corral.example.v1.Example/GetPrice';
const LOOKUP = '/corral.example.v1.Example/Lookup';

const plain = new KeyMaker();
const canon = new KeyMaker({ canon: new KeyCanon(declared, ['request_id', 'trace.span_id']) });
const mapsOnly = new KeyMaker({ canon: new KeyCanon(declared, []) });

const bench = new Bench({ time: 1000, warmupTime: 200 });
bench
  .add('GetPrice key as sent (no descriptors)', () => void plain.key(GET_PRICE, metadata, price))
  .add('GetPrice key, fields ignored and map sorted', () => void canon.key(GET_PRICE, metadata, price))
  .add('GetPrice key, map sorted only', () => void mapsOnly.key(GET_PRICE, metadata, price))
  .add('Lookup key as sent (no descriptors)', () => void plain.key(LOOKUP, metadata, lookup))
  .add('Lookup key with KeyCanon in place (nothing to do)', () => void canon.key(LOOKUP, metadata, lookup));
await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result as { latency: { p50?: number; p99?: number } } | undefined;
  return `| ${t.name} | ${Math.round((r?.latency.p50 ?? 0) * 1e6).toLocaleString('en')} | ${Math.round((r?.latency.p99 ?? 0) * 1e6).toLocaleString('en')} |`;
});
process.stdout.write(['| key | median ns | p99 ns |', '|---|---:|---:|', ...rows].join('\n') + '\n');
