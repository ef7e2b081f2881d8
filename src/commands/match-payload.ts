/**
 * `match --payload`: what each destination would send for an entry, built by the sinks' own
 * request builders: the exact body (after redaction, fields and template), the SNS subject,
 * attributes and FIFO ids, or the webhook headers (signature included). Credential headers of
 * the destination's own config are masked in the output like entry headers.
 */
import type { ResolvedConfig, ResolvedDestination } from '../config/resolve.ts';
import type { KongEvent } from '../event/kong-event.ts';
import type { Router } from '../route/router.ts';
import { Redactors, Shaper } from '../shape/shaper.ts';
import { SnsRequestBuilder } from '../sinks/sns/request-builder.ts';
import { WebhookRequestBuilder } from '../sinks/webhook/request-builder.ts';
import { WebhookTarget } from '../sinks/webhook/target.ts';

/** What one destination would send for one entry. */
export type OutgoingMessage =
  | { readonly suppressed: true }
  | { readonly omitted: string }
  | {
      readonly type: 'webhook';
      readonly method: string;
      readonly url: string;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: string;
    }
  | {
      readonly type: 'sns';
      readonly message: string;
      readonly subject?: string;
      readonly attributes?: Readonly<Record<string, { readonly type: string; readonly value: string }>>;
      readonly group_id?: string;
      readonly deduplication_id?: string;
    };

export class PayloadPreview {
  readonly #router: Router;
  readonly #destinations: readonly ResolvedDestination[];
  readonly #shapers: readonly Shaper[];
  readonly #webhooks = new Map<string, WebhookRequestBuilder>();
  readonly #sns = new Map<string, SnsRequestBuilder>();

  constructor(config: ResolvedConfig, router: Router) {
    this.#router = router;
    this.#destinations = config.destinations;
    const redactors = new Redactors();
    this.#shapers = config.destinations.map((d) => new Shaper(d.shape, redactors));
    for (const d of config.destinations) {
      if (d.type === 'webhook') this.#webhooks.set(d.name, new WebhookRequestBuilder(d, new WebhookTarget(d.url)));
      else this.#sns.set(d.name, new SnsRequestBuilder(d));
    }
  }

  /**
   * The entry as the destination named sends it (redacted, fields, payload), or null when its
   * dedupe suppresses it (dedupe applies as the entries come).
   */
  shaped(event: KongEvent, destination: string): KongEvent | null {
    const index = this.#router.destinations.indexOf(destination);
    const shaper = this.#shapers[index];
    return shaper.shape(event, shaper.needsCaptures ? this.#router.captures(event, index) : null);
  }

  /** What the destination named would send for the event (dedupe applies as the entries come). */
  async message(event: KongEvent, destination: string): Promise<OutgoingMessage> {
    const d = this.#destinations[this.#router.destinations.indexOf(destination)];
    const shaped = this.shaped(event, destination);
    if (shaped === null) return { suppressed: true };
    if (d.type === 'webhook') {
      const builder = this.#webhooks.get(d.name) as WebhookRequestBuilder;
      const [payload] = builder.payloads([shaped]);
      const { headers } = await builder.request(payload);
      const masked = d.shape.redact?.headers ?? [];
      const shown = Object.fromEntries(
        Object.entries(headers).map(([k, v]) => [k, masked.includes(k) ? (d.shape.redact?.replacement ?? v) : v]),
      );
      return {
        type: 'webhook',
        method: d.method,
        url: new WebhookTarget(d.url).display,
        headers: shown,
        body: payload.payload.toString('utf8'),
      };
    }
    const { calls, rejected } = (this.#sns.get(d.name) as SnsRequestBuilder).build([shaped]);
    if (rejected.length > 0) return { omitted: rejected[0].reason };
    const entry = calls[0][0].entry;
    const attributes =
      entry.MessageAttributes === undefined
        ? undefined
        : Object.fromEntries(
            Object.entries(entry.MessageAttributes).map(([k, v]) => [
              k,
              { type: v.DataType ?? 'String', value: v.StringValue ?? '' },
            ]),
          );
    return {
      type: 'sns',
      message: entry.Message ?? '',
      ...(entry.Subject === undefined ? {} : { subject: entry.Subject }),
      ...(attributes === undefined ? {} : { attributes }),
      ...(entry.MessageGroupId === undefined ? {} : { group_id: entry.MessageGroupId }),
      ...(entry.MessageDeduplicationId === undefined ? {} : { deduplication_id: entry.MessageDeduplicationId }),
    };
  }
}

/** Indented text lines for one destination's message (the text output of match --payload). */
export function formatOutgoing(destination: string, m: OutgoingMessage): string {
  if ('suppressed' in m) return `    ${destination}: suppressed (unique/snooze: a repeat within the window)\n`;
  if ('omitted' in m) return `    ${destination}: not sent: ${m.omitted}\n`;
  if (m.type === 'webhook') {
    const headers = Object.entries(m.headers).map(([k, v]) => `      ${k}: ${v}\n`);
    return `    ${destination}: ${m.method} ${m.url}\n${headers.join('')}      body: ${m.body}\n`;
  }
  const lines = [`    ${destination}: SNS Publish\n`];
  if (m.subject !== undefined) lines.push(`      subject: ${m.subject}\n`);
  for (const [k, v] of Object.entries(m.attributes ?? {})) lines.push(`      attribute ${k} (${v.type}): ${v.value}\n`);
  if (m.group_id !== undefined) lines.push(`      message_group_id: ${m.group_id}\n`);
  if (m.deduplication_id !== undefined) lines.push(`      message_deduplication_id: ${m.deduplication_id}\n`);
  lines.push(`      message: ${m.message}\n`);
  return lines.join('');
}
