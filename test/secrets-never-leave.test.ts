/**
 * The scenario of the redaction issue, end to end through the real daemon: entries carrying
 * secrets in every place Kong puts them arrive through the http and the file source and go to
 * webhooks of every encoding (one gzipped), to SNS (fauxqs, read back from SQS) and, through a
 * webhook that answers 400, to the dead-letter file. No byte that arrives or is written anywhere
 * holds a secret; every entry still arrives, with the keys kept.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Daemon, waitFor } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';
import { SnsEmulator, type SqsQueue } from '../tools/sns-emulator.ts';

const SECRETS = Array.from({ length: 12 }, (_, i) => `s3cr3t${i}X${Math.random().toString(36).slice(2, 8)}`);

/** One entry with a secret in every place (lua-cjson style: "/" escaped), numbered n. */
function secretEntry(n: number): string {
  const [a, b, c, d, e, f, g, h, i, j, k, l] = SECRETS;
  const obj = {
    request: {
      id: `req-${n}`,
      method: 'PUT',
      uri: `/profile/${n}?apikey=${a}&page=1&access_token=${b}`,
      url: `https://api.example.com/profile/${n}?apikey=${a}&page=1&access_token=${b}`,
      headers: {
        host: 'api.example.com',
        authorization: `Bearer ${c}`,
        'proxy-authorization': `Basic ${d}`,
        cookie: [`sid=${e}`, `csrf=${f}`],
        'x-api-key': g,
        apikey: h,
      },
      querystring: { apikey: a, page: '1', access_token: b, debug: true, token: [i, true] },
    },
    upstream_uri: `/v1/profile/${n}?sig=${j}&signature=${k}`,
    response: { status: 200, headers: { 'set-cookie': `session=${l}; HttpOnly`, 'content-type': 'application/json' } },
    workspace_name: 'default',
    started_at: 1726783839539 + n,
  };
  return JSON.stringify(obj).replaceAll('/', '\\/');
}

interface Hook {
  readonly url: string;
  readonly bodies: Map<string, string[]>;
  close(): Promise<void>;
}

/** Webhook receiver: records every (gunzipped) body per path; /reject answers 400. */
async function hook(): Promise<Hook> {
  const bodies = new Map<string, string[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      bodies.set(req.url ?? '', [...(bodies.get(req.url ?? '') ?? []), body]);
      res.writeHead(req.url === '/reject' ? 400 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    bodies,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('secrets never leave the relay (default redaction, real daemon)', () => {
  let emulator: SnsEmulator;
  before(async () => {
    emulator = await SnsEmulator.start();
  });
  after(async () => {
    await emulator.close();
  });

  it('http and file entries reach webhooks (json, json_array, ndjson+gzip), SNS and the dead-letter file with every secret masked', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'logs'));
    const log = path.join(dir, 'logs', 'kong.log');
    writeFileSync(log, '');
    const rx = await hook();
    const { topicArn, queue } = await emulator.topicWithQueue('secrets');
    const fast = 'batch: { max_wait: 20ms }, retry: { initial_delay: 10ms, max_delay: 50ms, max_elapsed: 2s }';
    const daemon = await Daemon.start(
      dir,
      `
sources:
  tail: { type: file, paths: ["${dir}/logs/*.log"], start_at: beginning, poll_interval: 50ms }
  http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { bearer: t0ken } }
workspaces: { "*": { to: [json, array, lines, topic, reject] } }
destinations:
  json: { type: webhook, url: "${rx.url}/json", encoding: json, ${fast} }
  array: { type: webhook, url: "${rx.url}/array", encoding: json_array, ${fast} }
  lines: { type: webhook, url: "${rx.url}/lines", encoding: ndjson, gzip: true, ${fast} }
  reject: { type: webhook, url: "${rx.url}/reject", encoding: json_array, ${fast} }
  topic:
    type: sns
    topic_arn: ${topicArn}
    endpoint: ${emulator.endpoint}
    subject: "{request.headers.authorization}"
    message_attributes: { auth: "{request.headers.authorization}", key: "{request.querystring.apikey}" }
    ${fast.replace(', retry', '\n    retry')}
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { format: json }
`,
    );
    try {
      const status = (await daemon.status()) as { sources: { http: { listen: string } } };
      const httpEntries = [0, 1, 2].map(secretEntry);
      const r = await fetch(`http://${status.sources.http.listen}/kong`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer t0ken' },
        body: `[${httpEntries.join(',')}]`,
      });
      assert.equal(r.status, 200);
      appendFileSync(log, `${[3, 4, 5].map(secretEntry).join('\n')}\n`);

      const count = (p: string): number =>
        (rx.bodies.get(p) ?? []).flatMap((b) =>
          p === '/lines' ? b.split('\n').filter(Boolean) : p === '/json' ? [b] : (JSON.parse(b) as unknown[]),
        ).length;
      await waitFor(() => ['/json', '/array', '/lines'].every((p) => count(p) === 6), 30_000, 'webhook deliveries');
      const sqs: SqsQueue = queue;
      await waitFor(async () => (await sqs.drain()).length >= 6, 30_000, 'SNS deliveries');
      const deadDir = path.join(dir, 'state', 'dead-letter', 'reject');
      await waitFor(
        () => {
          try {
            return filesUnder(deadDir).flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean)).length === 6;
          } catch {
            return false;
          }
        },
        30_000,
        'dead letters',
      );

      const match = (await import('node:child_process')).spawnSync(
        process.execPath,
        [path.resolve(import.meta.dirname, '../src/main.js'), 'match', '--payload', '-c', daemon.configFile, log],
        { encoding: 'utf8' },
      );
      const everything = [
        ...[...rx.bodies.values()].flat(),
        ...sqs.bodies,
        ...filesUnder(path.join(dir, 'state')).map((f) => readFileSync(f, 'latin1')),
        match.stdout,
        match.stderr,
        ...daemon.logs.map((l) => JSON.stringify(l)),
      ].join('\n');
      for (const s of SECRETS) assert.ok(!everything.includes(s), `secret ${s} leaked`);
      assert.equal(sqs.bodies.length, 6);

      // Every entry arrived, whole, with its keys and the non-secret values.
      const one = JSON.parse((rx.bodies.get('/json') ?? [])[0]) as {
        request: { uri: string; headers: Record<string, unknown>; querystring: Record<string, unknown> };
        upstream_uri: string;
        response: { headers: Record<string, unknown> };
      };
      assert.match(one.request.uri, /^\/profile\/\d\?apikey=\[REDACTED\]&page=1&access_token=\[REDACTED\]$/);
      assert.deepEqual(one.request.headers.cookie, ['[REDACTED]', '[REDACTED]']);
      assert.equal(one.request.headers.host, 'api.example.com');
      assert.deepEqual(one.request.querystring, {
        apikey: '[REDACTED]',
        page: '1',
        access_token: '[REDACTED]',
        debug: true,
        token: ['[REDACTED]', true],
      });
      assert.match(one.upstream_uri, /\?sig=\[REDACTED\]&signature=\[REDACTED\]$/);
      assert.equal(one.response.headers['set-cookie'], '[REDACTED]');
    } finally {
      await daemon.stop();
      await rx.close();
    }
  });
});
