/**
 * Webhook signatures.
 *
 * Kong Enterprise Event Hooks (`signing: { scheme: kong }`):
 * `X-Kong-Signature: sha1=<lowercase hex HMAC-SHA1(secret, body)>` over the exact body bytes
 * sent (with `gzip: true`, the compressed bytes), as Kong's own webhook handler sends it.
 *
 * Standard Webhooks signatures (https://www.standardwebhooks.com, spec 1.0):
 * `webhook-signature: v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{payload}")>`
 * with `webhook-timestamp` in unix seconds. The key is the base64-decoded part after "whsec_"
 * when the secret has that prefix (the spec's serialization), otherwise the secret's UTF-8 bytes.
 *
 * The payload signed is the uncompressed body. The spec only says the payload signed must be
 * the payload sent; with `Content-Encoding: gzip` the payload is the decoded representation,
 * which is what receivers' frameworks hand to verification code (they inflate before the
 * handler sees the body), and what other senders that compress sign.
 */
import { createHmac } from 'node:crypto';

export class WebhookSigner {
  readonly #key: Buffer;

  constructor(secret: string) {
    this.#key = signingKey(secret);
  }

  /** The three Standard Webhooks headers for one request. */
  headers(id: string, payload: Uint8Array, now = Date.now()): Record<string, string> {
    const timestamp = String(Math.floor(now / 1000));
    const signature = createHmac('sha256', this.#key)
      .update(`${id}.${timestamp}.`, 'utf8')
      .update(payload)
      .digest('base64');
    return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
  }
}

export function signingKey(secret: string): Buffer {
  if (secret.startsWith('whsec_')) {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    if (key.length > 0) return key;
  }
  return Buffer.from(secret, 'utf8');
}

/** Kong Event Hooks' signature header value for the exact body bytes sent. */
export function kongSignature(secret: string, body: Uint8Array): string {
  return `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`;
}
