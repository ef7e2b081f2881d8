/** `run -c FILE`: the daemon. SIGTERM/SIGINT drain and exit 0, a second one exits at once; SIGHUP reloads. */
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import { Relay } from '../relay.ts';
import { createLogger, type Logger } from '../telemetry/log.ts';
import { LiveSummary } from '../telemetry/summary.ts';
import type { ClosedPipe } from '../util/closed-pipe.ts';
import { StateDirectoryError, stateDirectories, stateDirectoryProblems } from './state-dirs.ts';
import { HeapGrowthBound } from './heap-growth.ts';
import { EXIT_INVALID_CONFIG } from './validate.ts';

/** Exit codes of `run` (besides 0, and EXIT_INVALID_CONFIG = 2): documented in the README. */
export const EXIT_START_FAILED = 1;
export const EXIT_STATE_UNWRITABLE = 3;

export async function runCommand(file: string, closedPipe?: ClosedPipe): Promise<number> {
  const { config, diagnostics } = loadConfigFile(file);
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (config === null) return EXIT_INVALID_CONFIG;

  const log = createLogger(config.log);
  // Before anything starts: a relay that cannot checkpoint or dead-letter must not say "running".
  const unwritable = await stateDirectoryProblems(stateDirectories(config));
  if (unwritable.length > 0) return cannotStart(log, new StateDirectoryError(unwritable));
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
  // Logs go to stdout: if its reader goes away, drain and stop as on SIGTERM (nothing left to log to).
  if (closedPipe !== undefined) closedPipe.onClosed = () => void relay.stop();
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
    return cannotStart(log, e as Error);
  }
  const summary =
    process.stderr.isTTY && config.log.format !== 'json' ? new LiveSummary(relay.metrics, process.stderr) : null;
  await relay.whenStopped();
  summary?.stop();
  return 0;
}

/** Said in the log (journal, collectors) and, plainly, on stderr for whoever started it by hand. */
function cannotStart(log: Logger, e: Error): number {
  log.fatal({ err: e.message }, 'could not start');
  process.stderr.write(`kong-log-relay: could not start: ${e.message}\n`);
  return e instanceof StateDirectoryError ? EXIT_STATE_UNWRITABLE : EXIT_START_FAILED;
}
