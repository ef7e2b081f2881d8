/**
 * A check that runs now and then every `intervalMs` (unref'd timer, never two at once) and keeps
 * its latest problems for /readyz: readiness says what is wrong now, not what was wrong at start.
 */
export class PeriodicCheck {
  readonly #check: () => Promise<string[]>;
  readonly #intervalMs: number;
  #problems: readonly string[] = [];
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<readonly string[]> | null = null;

  constructor(check: () => Promise<string[]>, intervalMs: number) {
    this.#check = check;
    this.#intervalMs = intervalMs;
  }

  get problems(): readonly string[] {
    return this.#problems;
  }

  /** Run the check now (or join the run under way); resolves with its problems. */
  run(): Promise<readonly string[]> {
    this.#running ??= this.#check()
      .catch((e: unknown) => [`check failed: ${(e as Error).message}`])
      .then((problems) => {
        this.#problems = problems;
        this.#running = null;
        return problems;
      });
    return this.#running;
  }

  /** Check every intervalMs from now on; `onChange` hears when the set of problems changes. */
  start(onChange: (problems: readonly string[], before: readonly string[]) => void): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      const before = this.#problems;
      void this.run().then((now) => {
        if (now.join('\n') !== before.join('\n')) onChange(now, before);
      });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
