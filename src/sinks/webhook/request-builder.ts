/**
 * Batch of events → HTTP requests: the entries' original texts joined by the configured
 * encoding (never re-serialized), optionally gzipped, with the configured headers and the
 * Standard Webhooks signature headers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { WebhookDestination } from '../../config/resolve.ts';
import type { ByteString } from '../../event/byte-string.ts';
import type { KongEvent } from '../../event/kong-event.ts';
import { VERSION } from '../../version.ts';
import type { Template } from '../../event/template.ts';
import { WebhookSigner, kongSignature } from './signing.ts';
import { BodyBuffers, joinBody } from './body-join.ts';
import type { WebhookTarget } from './target.ts';

const gzipAsync = promisify(gzip);

/** One request's payload and the batch indices of the entries it carries. */
export interface WebhookPayload {
  readonly indices: readonly number[];
  readonly events: readonly KongEvent[];
  /** The uncompressed body. */
  readonly payload: Buffer;
}

export interface WebhookRequest {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

const CONTENT_TYPES = {
  json: 'application/json',
  json_array: 'application/json',
  ndjson: 'application/x-ndjson',
} as const;

export class WebhookRequestBuilder {
  readonly #encoding: WebhookDestination['encoding'];
  readonly #gzip: boolean;
  /** Standard Webhooks signer (signs the uncompressed payload). */
  readonly #signer: WebhookSigner | undefined;
  /** Kong Event Hooks secret (signs the body bytes sent). */
  readonly #kongSecret: string | undefined;
  readonly #headerTemplates: readonly (readonly [name: string, value: Template])[];
  /** Configured headers plus defaults, lower-cased names; computed once. */
  readonly #baseHeaders: Record<string, string>;
  /** A random id per entry, so a webhook-id stays the same when the same entries are retried. */
  readonly #entryIds = new WeakMap<KongEvent, string>();
  /** Batch bodies (json_array, ndjson) are written into reused buffers: see body-join.ts. */
  readonly #bodies = new BodyBuffers();

  constructor(destination: WebhookDestination, target: WebhookTarget) {
    this.#encoding = destination.encoding;
    this.#gzip = destination.gzip;
    const signing = destination.signing;
    this.#signer = signing?.scheme === 'standard' ? new WebhookSigner(signing.secret) : undefined;
    this.#kongSecret = signing?.scheme === 'kong' ? signing.secret : undefined;
    this.#headerTemplates = destination.headerTemplates.map(([name, t]) => [name.toLowerCase(), t] as const);
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[destination.encoding],
      'user-agent': `kong-log-relay/${VERSION}`,
    };
    if (target.basicAuthorization !== undefined) headers.authorization = target.basicAuthorization;
    // Configured headers win over our defaults (a receiver may want its own content type).
    for (const [name, value] of Object.entries(destination.headers)) headers[name.toLowerCase()] = value;
    if (destination.gzip) headers['content-encoding'] = 'gzip';
    this.#baseHeaders = headers;
  }

  /** `json`: one payload per entry; `json_array` / `ndjson`: one payload for the batch. */
  payloads(events: readonly KongEvent[]): WebhookPayload[] {
    switch (this.#encoding) {
      case 'json':
        return events.map((e, i) => ({ indices: [i], events: [e], payload: joinBody([e.raw], '', '', '') }));
      case 'json_array':
        return [
          {
            indices: events.map((_, i) => i),
            events,
            payload: joinBody(
              events.map((e) => e.raw),
              '[',
              ',',
              ']',
              this.#bodies,
            ),
          },
        ];
      case 'ndjson':
        return [
          {
            indices: events.map((_, i) => i),
            events,
            payload: joinBody(oneLineRaws(events), '', '\n', '\n', this.#bodies),
          },
        ];
    }
  }

  /**
   * The payload's request has settled and nothing will read its bytes again (each attempt builds
   * its payloads anew): its buffer may carry a later batch.
   */
  release(p: WebhookPayload): void {
    if (this.#encoding !== 'json') this.#bodies.give(p.payload);
  }

  /** Body and headers for one attempt: signed now (the timestamp is the attempt's), compressed if configured. */
  async request(p: WebhookPayload): Promise<WebhookRequest> {
    const headers = { ...this.#baseHeaders };
    // Header templates are rendered from the request's first entry; a line break from the entry
    // could end the header: control characters become spaces.
    for (const [name, t] of this.#headerTemplates)
      headers[name] = t.render(p.events[0]).replace(/[\u0000-\u001f\u007f]/g, ' ');
    if (this.#signer !== undefined) Object.assign(headers, this.#signer.headers(this.#webhookId(p.events), p.payload));
    const body = this.#gzip ? await gzipAsync(p.payload) : p.payload;
    if (this.#kongSecret !== undefined) headers['x-kong-signature'] = kongSignature(this.#kongSecret, body);
    return { body, headers };
  }

  /**
   * Standard Webhooks wants the id to stay the same across retries of a message (receivers
   * use it as an idempotency key): one entry's request uses that entry's id, a batch's
   * request a digest of its entries' ids. Retrying the same entries gives the same id.
   */
  #webhookId(events: readonly KongEvent[]): string {
    if (events.length === 1) return `msg_${this.#entryId(events[0])}`;
    const hash = createHash('sha256');
    for (const e of events) hash.update(this.#entryId(e)).update('.');
    return `msg_${hash.digest('base64url').slice(0, 27)}`;
  }

  #entryId(event: KongEvent): string {
    let id = this.#entryIds.get(event);
    if (id === undefined) {
      id = randomBytes(16).toString('base64url');
      this.#entryIds.set(event, id);
    }
    return id;
  }
}

/**
 * The entries as Kong wrote them (never re-serialized), one line each: NDJSON needs one entry per
 * line. In valid JSON a raw line break can only be whitespace between tokens (inside strings it
 * must be escaped), so turning it into a space keeps the entry's meaning; Kong's own entries
 * never contain one, so they pass through untouched.
 */
function oneLineRaws(events: readonly KongEvent[]): ByteString[] {
  const out = new Array<ByteString>(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    out[i] = e.hasLineBreak ? (e.raw.replace(/[\r\n]/g, ' ') as ByteString) : e.raw;
  }
  return out;
}
