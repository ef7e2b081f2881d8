/**
 * Credentials Kong must present to the HTTP source: a bearer token (custom `headers` in the
 * http-log plugin) and/or basic auth (userinfo in `http_endpoint`). Compared in constant
 * time over SHA-256 digests, so neither the content nor the length of a secret leaks
 * through timing. Nothing here ever logs or returns what a client sent.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { HttpSource as HttpSourceConfig } from '../../config/resolve.ts';

const REALM = 'kong-log-relay';

/** One-shot hashing, no Hash object per request (crypto.hash: Node >= 21.7, and Deno 2). */
function sha256(data: string | Buffer): Buffer {
  return hash('sha256', data, 'buffer');
}

export class CredentialCheck {
  readonly #bearer: Buffer | null;
  readonly #basic: Buffer | null;
  readonly #none: boolean;
  /** WWW-Authenticate value of a 401: one challenge per configured scheme. */
  readonly challenge: string;

  constructor(auth: HttpSourceConfig['auth']) {
    this.#none = auth.none && auth.bearer === undefined && auth.basic === undefined;
    this.#bearer = auth.bearer === undefined ? null : sha256(auth.bearer);
    this.#basic =
      auth.basic === undefined ? null : sha256(Buffer.from(`${auth.basic.user}:${auth.basic.password}`, 'utf8'));
    const challenges: string[] = [];
    if (this.#bearer !== null) challenges.push(`Bearer realm="${REALM}"`);
    if (this.#basic !== null) challenges.push(`Basic realm="${REALM}", charset="UTF-8"`);
    this.challenge = challenges.join(', ') || `Bearer realm="${REALM}"`;
  }

  /** True when the Authorization header carries accepted credentials (or none are required). */
  accepts(authorization: string | undefined): boolean {
    if (this.#none) return true;
    if (authorization === undefined) return false;
    let start = 0;
    while (start < authorization.length && authorization.charCodeAt(start) === 0x20) start++;
    const space = authorization.indexOf(' ', start);
    if (space < 0) return false;
    const scheme = authorization.slice(start, space).toLowerCase();
    const credentials = authorization.slice(space + 1).trim();
    if (scheme === 'bearer') return this.#bearer !== null && sameDigest(sha256(credentials), this.#bearer);
    // RFC 7617: base64 of "user:password" (UTF-8); decoding first makes equivalent encodings equal.
    if (scheme === 'basic')
      return this.#basic !== null && sameDigest(sha256(Buffer.from(credentials, 'base64')), this.#basic);
    return false;
  }
}

function sameDigest(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}
