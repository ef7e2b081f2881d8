#!/usr/bin/env node
/** kong-log-relay CLI: each command's module is imported only when that command runs. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ClosedPipe } from './util/closed-pipe.ts';
import { VERSION } from './version.ts';

const configOption = { alias: 'c', type: 'string', demandOption: true, describe: 'YAML config file' } as const;
/** How `top` and `tap` reach a running relay's admin listener. */
const adminClientOptions = {
  admin: { type: 'string', describe: 'Admin URL, e.g. http://127.0.0.1:9877' },
  config: { alias: 'c', type: 'string', describe: 'Read the admin address from this config' },
  token: { type: 'string', describe: 'admin.token, if the admin listener requires one (or KLR_ADMIN_TOKEN)' },
} as const;
const closedPipe = new ClosedPipe();

await yargs(hideBin(process.argv))
  .scriptName('kong-log-relay')
  .usage(
    '$0 <command> [options]\n\nRoutes Kong Gateway request logs (file-log, http-log) to Amazon SNS topics and webhooks.',
  )
  .command(
    'run',
    'Run the relay daemon',
    (y) => y.option('config', configOption),
    async (argv) => {
      const { runCommand } = await import('./commands/run.ts');
      process.exitCode = await runCommand(argv.config, closedPipe);
    },
  )
  .command(
    'validate',
    'Check a config file: exit 0 when valid, 2 with every error',
    (y) =>
      y.option('config', configOption).option('kong-admin', {
        type: 'boolean',
        default: false,
        describe: 'Also check workspaces, services, routes and consumers named in the config against the Admin API',
      }),
    async (argv) => {
      const { validateCommand } = await import('./commands/validate.ts');
      process.exitCode = await validateCommand(argv.config, { kongAdmin: argv.kongAdmin });
    },
  )
  .command(
    'match [logs..]',
    'Dry run: which rules and destinations each Kong entry reaches, and why',
    (y) =>
      y
        .option('config', configOption)
        .positional('logs', {
          type: 'string',
          array: true,
          describe: 'Kong log files (one JSON object per line, or a JSON array); "-" or none for stdin',
        })
        .option('json', { type: 'boolean', default: false, describe: 'One JSON object per entry' })
        .option('payload', {
          type: 'boolean',
          default: false,
          describe: 'Also print what each destination would send: body, SNS subject/attributes or webhook headers',
        }),
    async (argv) => {
      const { matchCommand } = await import('./commands/match.ts');
      process.exitCode = await matchCommand(argv.config, argv.logs ?? [], { json: argv.json, payload: argv.payload });
    },
  )
  .command(
    'replay <paths..>',
    'Re-send dead letters to their destinations; each file moves to replayed/ once done',
    (y) =>
      y
        .option('config', configOption)
        .positional('paths', {
          type: 'string',
          array: true,
          demandOption: true,
          describe: 'Dead-letter files, directories (searched below, replayed/ left out) or globs',
        })
        .option('to', { type: 'string', describe: 'Send to this destination instead of the recorded one' })
        .option('dry-run', {
          type: 'boolean',
          default: false,
          describe: 'Print each record that would be sent, and where, as one JSON line; send and move nothing',
        }),
    async (argv) => {
      const { replayCommand } = await import('./commands/replay.ts');
      process.exitCode = await replayCommand(argv.config, argv.paths, { to: argv.to, dryRun: argv.dryRun });
    },
  )
  .command(
    'top',
    'Live view of a running relay: entries/s, buffers, retries, dead letters per source and destination',
    (y) =>
      y
        .options(adminClientOptions)
        .option('interval', { type: 'number', default: 1, describe: 'Seconds between refreshes' }),
    async (argv) => {
      const { topCommand } = await import('./commands/top.ts');
      process.exitCode = await topCommand({
        admin: argv.admin,
        config: argv.config,
        token: argv.token ?? process.env.KLR_ADMIN_TOKEN,
        intervalMs: Math.max(0.1, argv.interval) * 1000,
      });
    },
  )
  .command(
    'tap',
    'Print the entries a running relay routes, as delivered (redacted), with their rules and destinations, as NDJSON',
    (y) =>
      y
        .options(adminClientOptions)
        .option('destination', {
          type: 'string',
          array: true,
          default: [],
          describe: 'Only entries routed to this destination (shown as it gets them)',
        })
        .option('rule', { type: 'string', array: true, default: [], describe: 'Only entries this rule matched' })
        .option('workspace', { type: 'string', array: true, default: [], describe: 'Only entries of this workspace' })
        .option('source', { type: 'string', array: true, default: [], describe: 'Only entries read by this source' })
        .option('limit', { type: 'number', describe: 'Stop after this many entries' })
        .option('duration', {
          type: 'string',
          describe: 'Stop after this long, e.g. 30s, 5m (a bare number is seconds)',
        }),
    async (argv) => {
      const { tapCommand } = await import('./commands/tap.ts');
      process.exitCode = await tapCommand({
        admin: argv.admin,
        config: argv.config,
        token: argv.token ?? process.env.KLR_ADMIN_TOKEN,
        destination: argv.destination,
        rule: argv.rule,
        workspace: argv.workspace,
        source: argv.source,
        limit: argv.limit,
        duration: argv.duration,
      });
    },
  )
  .command(
    'test',
    "Run the config's unit tests (tests:, or files given with --tests): where entries go, without any network",
    (y) =>
      y
        .option('config', configOption)
        .option('tests', { type: 'string', array: true, default: [], describe: 'More test files (YAML: tests: [...])' })
        .option('junit', { type: 'string', describe: 'Also write a JUnit XML report to this file' }),
    async (argv) => {
      const { testCommand } = await import('./commands/test.ts');
      process.exitCode = await testCommand(argv.config, { tests: argv.tests, junit: argv.junit });
    },
  )
  .command(
    'demo',
    'Run the demo: relay + SNS emulator + webhook receiver + generated Kong traffic',
    (y) =>
      y
        .option('config', { alias: 'c', type: 'string', describe: 'Config (default: config/demo.yaml)' })
        .option('rate', { type: 'number', default: 200, describe: 'Generated Kong entries per second' })
        .option('duration', { type: 'number', describe: 'Stop after this many seconds (default: until Ctrl-C)' }),
    async (argv) => {
      const { demoCommand } = await import('./commands/demo.ts');
      process.exitCode = await demoCommand({ config: argv.config, rate: argv.rate, duration: argv.duration });
    },
  )
  .command(
    'health',
    "Ask a running relay's admin listener (address from the config) whether it is healthy: exit 0 or 1",
    (y) =>
      y
        .option('config', configOption)
        .option('ready', { type: 'boolean', default: false, describe: 'Ask /readyz instead of /healthz' })
        .option('timeout', { type: 'number', default: 3, describe: 'Seconds to wait for the answer' }),
    async (argv) => {
      const { healthCommand } = await import('./commands/health.ts');
      process.exitCode = await healthCommand(argv.config, { ready: argv.ready, timeoutMs: argv.timeout * 1000 });
    },
  )
  .command(
    'schema',
    'Print the JSON Schema of the config file (for editors)',
    () => {},
    async () => {
      const { configJsonSchema } = await import('./config/schema.ts');
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    },
  )
  .demandCommand(1, 'Say which command to run.')
  .strict()
  .help()
  .alias('h', 'help')
  .version(VERSION)
  .parseAsync();
