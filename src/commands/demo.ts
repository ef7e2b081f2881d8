/**
 * `demo` (what `npm start` runs): the relay on config/demo.yaml, an in-process SNS/SQS emulator
 * with an SQS subscription, local webhook receivers and generated Kong traffic — half written
 * as a file-log file, half POSTed like http-log — printing what arrives where. Ctrl-C stops.
 *
 * The emulator, receivers and traffic generator are development tools (tools/, with the dev
 * dependencies fauxqs and @aws-sdk/client-sqs), not part of the npm package: the demo runs from a
 * source checkout (`npm ci && npm start`, or `deno run … src/main.ts demo`) and says so elsewhere.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import { Relay } from '../relay.ts';
import { createLogger } from '../telemetry/log.ts';
import { PACKAGE_ROOT } from '../version.ts';
import { EXIT_INVALID_CONFIG } from './validate.ts';

export interface DemoOptions {
  readonly config: string | undefined;
  /** Generated Kong entries per second. */
  readonly rate: number;
  /** Stop by itself after this many seconds (tests); run until Ctrl-C when undefined. */
  readonly duration?: number;
}

export async function demoCommand(options: DemoOptions): Promise<number> {
  const configFile = options.config ?? path.join(PACKAGE_ROOT, 'config', 'demo.yaml');
  const work = mkdtempSync(path.join(tmpdir(), 'kong-log-relay-demo-'));
  const logDir = path.join(work, 'logs');
  mkdirSync(logDir, { recursive: true });

  const tools = await loadTools();
  const emulator = await tools.SnsEmulator.start();
  const { topicArn, queue } = await emulator.topicWithQueue('profile-updated', 'cache-invalidation');
  const receiver = await tools.WebhookReceiver.start({ record: false });
  process.env.AWS_ACCESS_KEY_ID ??= 'demo';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'demo';
  Object.assign(process.env, {
    DEMO_LOG_DIR: logDir,
    DEMO_STATE_DIR: path.join(work, 'state'),
    DEMO_HTTP_LISTEN: '127.0.0.1:0',
    DEMO_ADMIN_LISTEN: '127.0.0.1:0',
    DEMO_TOKEN: 'demo-token',
    DEMO_SNS_ENDPOINT: emulator.endpoint,
    DEMO_TOPIC_ARN: topicArn,
    DEMO_WEBHOOK_BASE: receiver.url,
  });
  const { config, diagnostics } = loadConfigFile(configFile);
  if (config === null) {
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    await Promise.all([emulator.close(), receiver.close()]);
    return EXIT_INVALID_CONFIG;
  }
  const relay = new Relay(config, createLogger(config.log));
  await relay.start();
  const httpListen = String(relay.sources.find((s) => s.name === 'kong_http')?.status().listen ?? '');
  const admin = String(relay.status().admin ?? '');

  const out = process.stdout;
  out.write(`kong-log-relay demo — config ${path.relative(process.cwd(), configFile) || configFile}\n`);
  out.write(`  Kong file-log → ${path.join(logDir, 'requests.log')}\n  Kong http-log → http://${httpListen}/kong\n`);
  out.write(`  SNS topic ${topicArn} → SQS queue cache-invalidation (emulator at ${emulator.endpoint})\n`);
  out.write(
    `  webhooks at ${receiver.url}: /payments (payments workspace), /search (search workspace), /global ("*")\n`,
  );
  if (admin !== '') out.write(`  admin: http://${admin}/metrics  /status\n`);
  out.write('Counts below are arrived/expected per destination. Ctrl-C to stop.\n\n');

  const generator = new tools.KongTrafficGenerator({ seed: 42 });
  let generated = 0,
    profileUpdates = 0;
  const expected = { payments: 0, search: 0 };
  const perTick = Math.max(2, Math.round(options.rate / 10));
  const traffic = setInterval(() => {
    const lines: string[] = [];
    const batch: string[] = [];
    for (let i = 0; i < perTick; i++) {
      const e = generator.next();
      generated++;
      if (e.workspace === 'payments') expected.payments++;
      if (e.workspace === 'search') expected.search++;
      if (
        (e.method === 'PUT' || e.method === 'PATCH') &&
        /^\/profile\/\d+$/.test(e.path ?? '') &&
        (e.status ?? 0) >= 200 &&
        (e.status ?? 0) < 300
      )
        profileUpdates++;
      (i % 2 === 0 ? lines : batch).push(e.text);
    }
    appendFileSync(path.join(logDir, 'requests.log'), `${lines.join('\n')}\n`);
    void fetch(`http://${httpListen}/kong`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo-token' },
      body: `[${batch.join(',')}]`,
    }).then(
      (r) => r.body?.cancel(),
      () => undefined,
    );
  }, 100);

  const report = async (): Promise<void> => {
    const sqsMessages = (await queue.drain()).length;
    const webhooks = [
      `payments ${receiver.count('/payments')}/${expected.payments}`,
      `search ${receiver.count('/search')}/${expected.search}`,
      `global ${receiver.count('/global')}/${generated}`,
    ];
    out.write(
      `generated ${generated} Kong entries | arrived/expected: SNS→SQS profile updates ${sqsMessages}/${profileUpdates} | webhooks: ${webhooks.join(', ')}\n`,
    );
  };
  const reporter = setInterval(() => {
    void report();
  }, 3_000);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (options.duration !== undefined) setTimeout(stop, options.duration * 1000);
  });
  clearInterval(traffic);
  clearInterval(reporter);
  out.write('\nstopping: the relay drains its buffers first…\n');
  // Let the last POSTs and lines reach the relay, then drain it.
  await new Promise((r) => setTimeout(r, 1_500));
  await relay.stop();
  await report();
  await Promise.all([emulator.close(), receiver.close()]);
  rmSync(work, { recursive: true, force: true });
  return 0;
}

/** The demo's development tools, loaded when it runs (tools/ is not in the npm package). */
async function loadTools(): Promise<
  typeof import('../../tools/sns-emulator.ts') &
    typeof import('../../tools/webhook-receiver.ts') &
    typeof import('../../tools/kong-traffic.ts')
> {
  // fauxqs loads node:sqlite, which on Node 22 prints an ExperimentalWarning: not ours to show.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (!String(warning).startsWith('SQLite is an experimental feature'))
      (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    const [sns, receiver, traffic] = await Promise.all([
      import('../../tools/sns-emulator.ts'),
      import('../../tools/webhook-receiver.ts'),
      import('../../tools/kong-traffic.ts'),
    ]);
    return { ...sns, ...receiver, ...traffic };
  } catch (e) {
    throw new Error(
      `the demo runs from a source checkout with the dev dependencies (git clone, npm ci, npm start): ${(e as Error).message}`,
    );
  } finally {
    process.emitWarning = emitWarning;
  }
}
