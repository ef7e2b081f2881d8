/** One request's abort signal: the delivery signal (shutdown) or the per-request timeout, whichever comes first. */

export interface RequestSignal {
  readonly signal: AbortSignal;
  /** True when the timeout (not the delivery signal) aborted the request. */
  readonly timedOut: () => boolean;
  /** Clears the timer and forgets the request; call when it settles. */
  readonly done: () => void;
}

/**
 * Requests in flight per delivery signal. The delivery signal lives as long as its
 * destination, so it gets one listener that aborts whatever is in flight, rather than one
 * listener per request (MaxListenersExceededWarning at 11) or AbortSignal.any() per request
 * (which leaks with a long-lived source signal on Node 20/22 and Deno).
 */
const inFlight = new WeakMap<AbortSignal, Set<AbortController>>();

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
  if (delivery.aborted) controller.abort(delivery.reason);
  else track(delivery).add(controller);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      inFlight.get(delivery)?.delete(controller);
    },
  };
}

function track(delivery: AbortSignal): Set<AbortController> {
  let requests = inFlight.get(delivery);
  if (requests === undefined) {
    const set = new Set<AbortController>();
    requests = set;
    inFlight.set(delivery, set);
    delivery.addEventListener(
      'abort',
      () => {
        for (const c of set) c.abort(delivery.reason);
        set.clear();
      },
      { once: true },
    );
  }
  return requests;
}
