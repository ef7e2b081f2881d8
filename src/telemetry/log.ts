/** Structured logs: pino JSON on stdout, human-readable on a TTY; repeated problems rate-limited. */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

export interface LogOptions {
  readonly level: LevelWithSilent;
  readonly format: 'json' | 'pretty' | 'auto';
}

export function createLogger(options: LogOptions, stream: NodeJS.WritableStream = process.stdout): Logger {
  const usePretty =
    options.format === 'pretty' || (options.format === 'auto' && (stream as { isTTY?: boolean }).isTTY === true);
  const base = {
    level: options.level,
    base: { pid: process.pid },
    // Belt and braces: nothing we log carries these, but a future field must not leak them.
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        'headers.authorization',
        'secret',
        '*.secret',
        'password',
        '*.password',
        'token',
        '*.token',
      ],
      censor: '[redacted]',
    },
  };
  if (usePretty)
    return pino(
      base,
      PinoPretty({ sync: true, destination: stream, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  return pino(base, stream);
}

/**
 * Logs the first `burst` occurrences of each key per `intervalMs`, then one summary with
 * the number suppressed: a flood of bad lines cannot flood the log.
 */
export class RateLimitedLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #burst: number;
  readonly #windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(log: Logger, intervalMs = 10_000, burst = 5) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#burst = burst;
  }

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    this.#emit('warn', key, fields, message);
  }
  error(key: string, fields: Record<string, unknown>, message: string): void {
    this.#emit('error', key, fields, message);
  }

  #emit(level: 'warn' | 'error', key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    let w = this.#windows.get(key);
    if (w === undefined || now - w.start >= this.#intervalMs) {
      if (w !== undefined && w.suppressed > 0)
        this.#log[level](
          { ...fields, suppressed: w.suppressed },
          `${message} (${w.suppressed} more like this were not logged in the last ${Math.round(this.#intervalMs / 1000)}s)`,
        );
      w = { start: now, count: 0, suppressed: 0 };
      this.#windows.set(key, w);
    }
    if (w.count < this.#burst) {
      w.count++;
      this.#log[level](fields, message);
    } else w.suppressed++;
  }
}
