/**
 * A backend with a fixed capacity, as most thread-pool servers have: WORKERS calls are
 * worked on at once, each for SERVICE_MS; the others wait in one FIFO queue. Like those
 * servers, it finishes a call it has started, or taken from its queue, even after the
 * caller left (its answer then goes nowhere). Answers echo the request.
 *   node dist/bench/capacity-backend.js PORT WORKERS SERVICE_MS
 * GET /stats: calls answered, calls worked on for a caller that had left, the longest the
 * queue has been and its length now, and calls by tag (a request's text up to its first
 * '-', for the first 16 tags seen). GET /service-ms/N: each call takes N ms from now on.
 * GET /reset: the counts start again.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

const workers = Number(process.argv[3] ?? 8);
let serviceMs = Number(process.argv[4] ?? 25);

interface Job {
  stream: http2.ServerHttp2Stream;
  body: Buffer;
}

const queue: Job[] = [];
let head = 0;
let busy = 0;
const stats = { answered: 0, wasted: 0, maxQueue: 0 };
let byTag: Record<string, number> = Object.create(null) as Record<string, number>;
const MAX_TAGS = 16;

const server = http2.createServer({ settings: { maxConcurrentStreams: 100_000 } });
server.on('stream', (stream, headers) => {
  if (headers[':method'] === 'GET') {
    control(stream, String(headers[':path']));
    return;
  }
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => {
    const body = Buffer.concat(chunks);
    count(body);
    queue.push({ stream, body });
    const waiting = queue.length - head;
    if (waiting > stats.maxQueue) stats.maxQueue = waiting;
    work();
  });
  stream.on('error', () => {});
});

function count(body: Buffer): void {
  const text = body.subarray(5, 69).toString('latin1');
  const dash = text.indexOf('-');
  if (dash <= 0) return;
  const tag = text.slice(0, dash);
  if (tag in byTag) byTag[tag]!++;
  else if (Object.keys(byTag).length < MAX_TAGS) byTag[tag] = 1;
}

function work(): void {
  while (busy < workers && head < queue.length) {
    const job = queue[head++]!;
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    busy++;
    setTimeout(done, serviceMs, job);
  }
}

function done(job: Job): void {
  busy--;
  const { stream } = job;
  if (stream.destroyed || stream.closed) stats.wasted++;
  else {
    stats.answered++;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(job.body);
  }
  work();
}

function control(stream: http2.ServerHttp2Stream, path: string): void {
  const setTo = /^\/service-ms\/(\d+)$/.exec(path);
  if (setTo !== null) serviceMs = Number(setTo[1]);
  if (path === '/reset') {
    Object.assign(stats, { answered: 0, wasted: 0, maxQueue: 0 });
    byTag = Object.create(null) as Record<string, number>;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/json' });
  // `calls` as the echo backend names it: what the benches read as the backend's count.
  stream.end(JSON.stringify({ ...stats, calls: stats.answered + stats.wasted, byTag, queue: queue.length - head, busy, serviceMs }));
}

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ msg: 'capacity backend listening', port: (server.address() as AddressInfo).port, workers, serviceMs }) + '\n');
});
process.once('SIGTERM', () => process.exit(0));
