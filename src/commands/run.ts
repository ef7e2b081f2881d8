/** `run -c FILE`: the daemon. SIGTERM/SIGINT drain and exit 0, a second one exits at once; SIGHUP reloads. */
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import { Relay } from '../relay.ts';
import { createLogger } from '../telemetry/log.ts';
import { LiveSummary } from '../telemetry/summary.ts';
import { HeapGrowthBound } from './heap-growth.ts';
import { EXIT_INVALID_CONFIG } from './validate.ts';

export const EXIT_START_FAILED = 1;

export async function runCommand(file: string): Promise<number> {
  const { config, diagnostics } = loadConfigFile(file);
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (config === null) return EXIT_INVALID_CONFIG;

  const log = createLogger(config.log);
  // Before anything is buffered; `heapGrowth.reason` says why V8's own growth stays when bounded was asked for.
  const heapGrowth = new HeapGrowthBound().start(config.heapGrowth);
  log.info({ heapGrowth: heapGrowth.mode, reason: heapGrowth.reason }, 'heap growth');
  const relay = new Relay(config, log);
  let signals = 0;
  const onStop = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn(
        { signal },
        'second signal: exiting now (checkpoints on disk stay valid; undelivered entries are re-read or were dead-lettered)',
      );
      process.exit(1);
    }
    log.info({ signal }, 'signal received: draining');
    void relay.stop();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading config');
    relay.reload();
  });
  process.on('unhandledRejection', (e) => {
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'unhandled rejection (bug): the relay goes on');
  });

  try {
    await relay.start();
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'could not start');
    return EXIT_START_FAILED;
  }
  const summary =
    process.stderr.isTTY && config.log.format !== 'json' ? new LiveSummary(relay.metrics, process.stderr) : null;
  await relay.whenStopped();
  summary?.stop();
  return 0;
}
