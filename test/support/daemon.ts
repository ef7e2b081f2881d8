/** Start the real daemon (`kong-log-relay run`) as a child process and talk to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const MAIN = path.resolve(import.meta.dirname, '../../src/main.js');
export const ROOT = path.resolve(import.meta.dirname, '../../..');
/** Deno from the `deno` dev dependency, running the TypeScript source directly. */
export const DENO = path.join(ROOT, 'node_modules', '.bin', 'deno');

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export class Daemon {
  readonly proc: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  adminUrl = '';
  /** The environment it was started with (a restart uses it again). */
  readonly #env: NodeJS.ProcessEnv;

  private constructor(proc: ChildProcess, env: NodeJS.ProcessEnv) {
    this.proc = proc;
    this.#env = env;
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as LogLine;
        this.logs.push(parsed);
        if (typeof parsed.admin === 'string' && this.adminUrl === '') this.adminUrl = `http://${parsed.admin}`;
      } catch {
        this.logs.push({ level: 30, msg: line });
      }
    });
    createInterface({ input: proc.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  /** Write `config` to `<dir>/config.yaml` and run the daemon on it; resolves once /readyz is 200. */
  static async start(
    dir: string,
    config: string,
    env: Record<string, string> = {},
    runtime: 'node' | 'deno' = 'node',
  ): Promise<Daemon> {
    const d = Daemon.launch(dir, config, env, runtime);
    await d.waitReady();
    return d;
  }

  /** Like start(), without waiting for readiness (a daemon that is meant not to be ready, or not to start). */
  static launch(
    dir: string,
    config: string,
    env: Record<string, string> = {},
    runtime: 'node' | 'deno' = 'node',
  ): Daemon {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, config);
    const [command, args] =
      runtime === 'node'
        ? [process.execPath, [MAIN, 'run', '-c', file]]
        : [DENO, ['run', '--allow-all', '--quiet', path.join(ROOT, 'src', 'main.ts'), 'run', '-c', file]];
    return Daemon.#spawn(command, args, {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...env,
    });
  }

  static #spawn(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Daemon {
    return new Daemon(spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }), env);
  }

  /**
   * Stop cleanly (SIGTERM; fails unless the daemon exits 0), run `whileStopped`, and start again on
   * the same config, environment and state; resolves with the new daemon once it is ready.
   */
  async restart(whileStopped: () => unknown = () => undefined): Promise<Daemon> {
    const { code, signal } = await this.stop();
    if (code !== 0) throw new Error(`daemon exited with ${code ?? signal} on SIGTERM: ${this.stderr.join('\n')}`);
    await whileStopped();
    const next = Daemon.#spawn(this.proc.spawnfile, this.proc.spawnargs.slice(1), this.#env);
    await next.waitReady();
    return next;
  }

  get configFile(): string {
    return this.proc.spawnargs.at(-1) as string;
  }

  async waitReady(timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => {
        if (this.proc.exitCode !== null)
          throw new Error(
            `daemon exited with ${this.proc.exitCode}: ${this.stderr.join('\n')} ${this.logs.map((l) => l.msg).join('\n')}`,
          );
        if (this.adminUrl === '') return false;
        const r = await fetch(`${this.adminUrl}/readyz`).catch(() => null);
        return r?.status === 200;
      },
      timeoutMs,
      'daemon ready',
    );
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.adminUrl}/metrics`)).text();
  }
  async status(): Promise<Record<string, unknown>> {
    return (await fetch(`${this.adminUrl}/status`)).json() as Promise<Record<string, unknown>>;
  }

  /** Sum of a metric's samples whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return sumMetric(await this.metrics(), name, labels);
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    return this.exited;
  }

  hasLog(pattern: RegExp): boolean {
    return this.logs.some((l) => pattern.test(l.msg));
  }
}

export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** Poll until `check` returns true (or throws), or fail after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
