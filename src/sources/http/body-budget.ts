/**
 * The memory one http source spends on request bodies: decoded bytes are reserved as they
 * arrive and released once intake has taken the entries, or the request failed. Without it,
 * MAX_CONNECTIONS bodies of max_body_bytes each (10 GiB by default) could be held at once.
 *
 * A request that would go over is refused (503, Kong retries it), never made to wait: bodies
 * half read, each waiting for room the others hold, could wait for each other forever.
 */
export class BodyBudget {
  readonly limit: number;
  #used = 0;

  /** `limit` >= max_body_bytes (checked by the config): a body alone always fits. */
  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.#used;
  }

  /** Reserve a chunk's bytes: false, and nothing reserved, when they would go over the limit. */
  reserve(bytes: number): boolean {
    const used = this.#used + bytes;
    if (used > this.limit) return false;
    this.#used = used;
    return true;
  }

  /**
   * Whether a body declared `bytes` long (Content-Length) may start to be read: it fits in what
   * is free, or nothing else is held (then it fits: it is at most max_body_bytes <= limit, and
   * refusing it would refuse it forever).
   */
  admits(bytes: number): boolean {
    return this.#used === 0 || bytes <= this.limit - this.#used;
  }

  /** Give back what a request reserved (exactly what its reserve() calls took). */
  release(bytes: number): void {
    this.#used -= bytes;
  }
}
