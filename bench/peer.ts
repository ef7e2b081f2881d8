/**
 * The peer of a case process, on the other core: the counting webhook receiver (the real
 * WebhookReceiver), the SNS/SQS emulator (fauxqs) and Kong-like load clients (keep-alive
 * connections POSTing pre-built http-log bodies). Started by a case with an IPC channel; see
 * peer-protocol.ts for what it answers.
 */
import { Pool } from 'undici';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { readEntries } from './input.ts';
import type { Envelope, LoadReport, PeerReply, PeerRequest, ReceivedEvent } from './peer-protocol.ts';

/** How often arrivals are compared with what is expected. */
const POLL_MS = 2;
/** Kong's http-log queue retries a refused batch after 10 ms, doubling up to this. */
const MAX_RETRY_DELAY_MS = 1_000;

type Counter = () => Record<string, number>;

let receiver: WebhookReceiver | null = null;
let emulator: { stop(): Promise<void> } | null = null;
let counter: Counter = () => ({});
let watch: NodeJS.Timeout | undefined;
let prepared: {
  pool: Pool;
  path: string;
  token: string;
  bodies: Buffer[];
  entries: number;
  connections: number;
} | null = null;

function send(message: Envelope<PeerReply> | ReceivedEvent): void {
  process.send?.(message);
}

/** Tell the case once every expected count is reached. */
function watchArrivals(expect: Readonly<Record<string, number>>): void {
  clearInterval(watch);
  watch = setInterval(() => {
    const counts = counter();
    for (const [key, n] of Object.entries(expect)) if ((counts[key] ?? 0) < n) return;
    clearInterval(watch);
    send({ event: 'received', counts });
  }, POLL_MS);
}

async function startReceiver(
  expect: Readonly<Record<string, number>>,
  stallMs: number | undefined,
  stallPath: string | undefined,
): Promise<string> {
  receiver = await WebhookReceiver.start({ record: false });
  if (stallMs !== undefined && stallMs > 0) {
    receiver.fault = (req) => (stallPath === undefined || (req.url ?? '').startsWith(stallPath) ? { stallMs } : null);
  }
  const r = receiver;
  counter = () => {
    const out: Record<string, number> = {};
    for (const key of Object.keys(expect)) out[key] = r.count(`/${key}`);
    return out;
  };
  watchArrivals(expect);
  return r.url;
}

async function startSns(expect: number): Promise<{ endpoint: string; topicArn: string }> {
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  const { topicArn } = server.createTopic('bench-all');
  server.createQueue('bench-all-q');
  server.subscribe({ topic: 'bench-all', queue: 'bench-all-q', attributes: { RawMessageDelivery: 'true' } });
  emulator = server;
  counter = () => ({ sqs: Number(server.inspectQueue('bench-all-q')?.attributes.ApproximateNumberOfMessages ?? 0) });
  watchArrivals({ sqs: expect });
  return { endpoint: `http://127.0.0.1:${server.port}`, topicArn };
}

function prepareLoad(r: Extract<PeerRequest, { op: 'prepare' }>): void {
  const texts = readEntries(r.input, r.entries);
  const bodies: Buffer[] = [];
  for (let i = 0; i < texts.length; i += r.perRequest) {
    const slice = texts.slice(i, i + r.perRequest);
    // What Kong's http-log sends: one object when max_batch_size is 1, else a JSON array.
    bodies.push(Buffer.from(r.perRequest === 1 ? slice[0] : `[${slice.join(',')}]`, 'utf8'));
  }
  const url = new URL(r.url);
  const pool = new Pool(url.origin, { connections: r.connections, keepAliveTimeout: 60_000 });
  prepared = { pool, path: url.pathname, token: r.token, bodies, entries: texts.length, connections: r.connections };
}

async function runLoad(): Promise<LoadReport> {
  if (prepared === null) throw new Error('load before prepare');
  const { pool, path, token, bodies, entries, connections } = prepared;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  let next = 0;
  let retried = 0;
  let failed = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const client = async (): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) {
      for (let delay = 10; ; delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS)) {
        const res = await pool.request({ path, method: 'POST', headers, body: bodies[i] });
        await res.body.dump();
        if (res.statusCode === 429 || res.statusCode === 503) {
          retried++;
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        if (res.statusCode < 200 || res.statusCode >= 300) failed++;
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, client));
  const used = process.cpuUsage(cpu);
  return {
    requests: bodies.length,
    entries,
    retried,
    failed,
    ms: performance.now() - started,
    cpuMs: (used.user + used.system) / 1000,
  };
}

async function handle(request: PeerRequest): Promise<PeerReply> {
  switch (request.op) {
    case 'receiver':
      return { op: 'receiver', url: await startReceiver(request.expect, request.stallMs, request.stallPath) };
    case 'sns':
      return { op: 'sns', ...(await startSns(request.expect)) };
    case 'prepare':
      prepareLoad(request);
      return { op: 'prepare' };
    case 'load':
      return { op: 'load', report: await runLoad() };
    case 'counts':
      return { op: 'counts', counts: counter() };
    case 'stop':
      clearInterval(watch);
      await prepared?.pool.close();
      await receiver?.close();
      await emulator?.stop();
      return { op: 'stop' };
  }
}

process.on('message', (m: Envelope<PeerRequest>) => {
  void handle(m.body).then(
    (body) => {
      if (process.connected) send({ id: m.id, body });
      // After the answer to stop: nothing is left open, the process exits.
      if (body.op === 'stop') process.disconnect?.();
    },
    (e: unknown) => {
      process.stderr.write(`bench peer: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
});
