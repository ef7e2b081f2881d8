/**
 * Batch of events → PublishBatch calls: one entry per event with the original text as the
 * message, rendered attributes, subject and FIFO ids; entries over SNS's size limit are failed
 * up front, and the rest is split into calls of at most 10 entries / 256 KiB.
 */
import { createHash } from 'node:crypto';
import type { MessageAttributeValue, PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import { SNS_MAX_BATCH_BYTES, SNS_MAX_BATCH_ENTRIES, type SnsDestination } from '../../config/resolve.ts';
import type { KongEvent } from '../../event/kong-event.ts';
import { uniqueHash } from '../../shape/dedupe.ts';
import type { EntryFailure } from '../sink.ts';

/** SNS's limit for one message, body plus attributes (the same 256 KiB as a whole batch). */
export const SNS_MAX_MESSAGE_BYTES = 256 * 1024;

/** Group id of FIFO entries when no template is configured or it renders empty. */
export const DEFAULT_MESSAGE_GROUP_ID = 'kong-log-relay';

/** One PublishBatch entry and the index of its event in the batch given to send(). */
export interface SnsRequestEntry {
  readonly index: number;
  readonly entry: PublishBatchRequestEntry;
  readonly bytes: number;
}

export interface SnsRequests {
  /** PublishBatch calls to make, in order; entry ids are "0".."9" within each call. */
  readonly calls: readonly (readonly SnsRequestEntry[])[];
  /** Entries that are not sent at all (over the size limit). */
  readonly rejected: readonly EntryFailure[];
}

// SNS: Subject is ASCII without control characters, shorter than 100 characters.
const SUBJECT_MAX_CHARS = 99;
const NOT_PRINTABLE_ASCII = /[^\x20-\x7E]/g;
// SNS: MessageGroupId / MessageDeduplicationId are 1..128 characters of letters, digits and punctuation.
const FIFO_ID = /^[\x21-\x7E]{1,128}$/;

export class SnsRequestBuilder {
  readonly #destination: SnsDestination;
  readonly #onAttributeOmitted: (name: string) => void;

  /** `onAttributeOmitted`: a Number attribute's value was not a number and was left out (counted). */
  constructor(destination: SnsDestination, onAttributeOmitted: (name: string) => void = () => {}) {
    this.#destination = destination;
    this.#onAttributeOmitted = onAttributeOmitted;
  }

  build(events: readonly KongEvent[]): SnsRequests {
    const calls: SnsRequestEntry[][] = [];
    const rejected: EntryFailure[] = [];
    let call: SnsRequestEntry[] = [];
    let callBytes = 0;
    for (let index = 0; index < events.length; index++) {
      const { entry, bytes } = this.#entry(events[index]);
      if (bytes > SNS_MAX_MESSAGE_BYTES) {
        rejected.push({
          index,
          retryable: false,
          reason: `entry is ${kib(bytes)} KiB, over SNS's 256 KiB message limit (message + attributes)`,
        });
        continue;
      }
      // Batches are already capped by the delivery layer; split anyway so an over-full batch
      // can never make SNS reject the whole call.
      if (call.length === SNS_MAX_BATCH_ENTRIES || (call.length > 0 && callBytes + bytes > SNS_MAX_BATCH_BYTES)) {
        calls.push(call);
        call = [];
        callBytes = 0;
      }
      entry.Id = String(call.length);
      call.push({ index, entry, bytes });
      callBytes += bytes;
    }
    if (call.length > 0) calls.push(call);
    return { calls, rejected };
  }

  #entry(event: KongEvent): { entry: PublishBatchRequestEntry; bytes: number } {
    const d = this.#destination;
    const message = event.text;
    // Counted as SNS counts a message's size: UTF-8 bytes of the body and of every
    // attribute's name, data type and value.
    let bytes = event.raw.length;
    let attributes: Record<string, MessageAttributeValue> | undefined;
    for (const [name, template, type] of d.messageAttributes) {
      const value = attributeValue(template.render(event), type);
      if (value === '') continue; // SNS rejects empty attribute values.
      if (value === null) {
        this.#onAttributeOmitted(name);
        continue;
      }
      // No prototype: an attribute may be named "__proto__" or "constructor".
      (attributes ??= Object.create(null) as Record<string, MessageAttributeValue>)[name] = {
        DataType: type,
        StringValue: value,
      };
      bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(type) + Buffer.byteLength(value, 'utf8');
    }
    const entry: PublishBatchRequestEntry = { Id: undefined, Message: message };
    if (attributes !== undefined) entry.MessageAttributes = attributes;
    if (d.subject !== undefined) {
      const subject = sanitizeSubject(d.subject.render(event));
      if (subject !== '') entry.Subject = subject;
    }
    if (d.fifo) {
      entry.MessageGroupId = fifoId(d.messageGroupId?.render(event) ?? '') ?? DEFAULT_MESSAGE_GROUP_ID;
      // Without a template: the unique values when dedupe is set (the same on every relay behind
      // the topic, so SNS drops the repeats within its 5-minute window), else the message.
      entry.MessageDeduplicationId =
        fifoId(d.messageDeduplicationId?.render(event) ?? '') ??
        (d.shape.dedupe !== null ? uniqueHash(event, d.shape.dedupe.unique) : sha256Hex(message));
    }
    return { entry, bytes };
  }
}

/** SNS's number format: up to 38 significant digits, decimal or exponent notation. */
const SNS_NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * A rendered attribute value as its type needs it: "" when empty (left out, as a missing field),
 * null when a Number is not a number (left out and counted: never sent malformed); a String.Array
 * is a JSON array, or the value as a one-element array.
 */
export function attributeValue(rendered: string, type: 'String' | 'Number' | 'String.Array'): string | null {
  if (rendered === '' || type === 'String') return rendered;
  if (type === 'Number') {
    const n = rendered.trim();
    return SNS_NUMBER.test(n) && n.replace(/\D/g, '').replace(/^0+/, '').length <= 38 ? n : null;
  }
  if (rendered.startsWith('[')) {
    try {
      if (Array.isArray(JSON.parse(rendered))) return rendered;
    } catch {
      // Not JSON: one string.
    }
  }
  return JSON.stringify([rendered]);
}

/**
 * A subject SNS would refuse must not cost the entry (it would be dead-lettered for a
 * cosmetic field): non-printable and non-ASCII characters become "?", and it is cut to size.
 */
export function sanitizeSubject(rendered: string): string {
  return rendered.replace(NOT_PRINTABLE_ASCII, '?').trim().slice(0, SUBJECT_MAX_CHARS).trim();
}

/**
 * A rendered FIFO id as SNS accepts it; undefined when empty (use the default). A value SNS
 * would refuse (too long, spaces, non-ASCII) is replaced by its SHA-256: distinct values stay
 * distinct, so groups are not merged and deduplication never drops a different entry.
 */
export function fifoId(rendered: string): string | undefined {
  if (rendered === '') return undefined;
  return FIFO_ID.test(rendered) ? rendered : sha256Hex(rendered);
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function kib(bytes: number): number {
  return Math.ceil(bytes / 1024);
}
