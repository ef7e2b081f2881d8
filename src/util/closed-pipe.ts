/**
 * A reader that goes away (`kong-log-relay match … | head -1`) closes stdout: writes then fail
 * with EPIPE, which Node reports as an uncaught 'error' with a stack trace. Every command instead
 * ends quietly, like a Unix tool killed by SIGPIPE; `run` drains first (see run.ts).
 */
export class ClosedPipe {
  #onClosed: () => void = () => process.exit();
  #closed = false;

  /** Watch stdout and stderr; other write errors are thrown as before. */
  constructor(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]) {
    for (const stream of streams) {
      stream.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
        stream.destroy();
        if (this.#closed) return;
        this.#closed = true;
        this.#onClosed();
      });
    }
  }

  /** What to do when a pipe closes instead of exiting at once (the daemon drains). */
  set onClosed(action: () => void) {
    this.#onClosed = action;
  }
}
