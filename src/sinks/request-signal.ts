/** One request's abort signal: the delivery signal (shutdown) or the per-request timeout, whichever comes first. */

export interface RequestSignal {
  readonly signal: AbortSignal;
  /** True when the timeout (not the delivery signal) aborted the request. */
  readonly timedOut: () => boolean;
  /** Clears the timer; call when the request settles. */
  readonly done: () => void;
}

export function requestSignal(delivery: AbortSignal, timeoutMs: number): RequestSignal {
  const controller = new AbortController();
  let timedOut = false;
  // Our own unref'd timer rather than AbortSignal.timeout(): it is cleared as soon as the
  // request settles instead of living on for the full timeout after every request.
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`request timed out after ${timeoutMs}ms`, 'TimeoutError'));
  }, timeoutMs);
  timer.unref();
  const onAbort = (): void => controller.abort(delivery.reason);
  if (delivery.aborted) onAbort();
  else delivery.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      delivery.removeEventListener('abort', onAbort);
    },
  };
}
