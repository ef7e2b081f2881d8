/**
 * The shape stage of one destination, between routing and delivery: redact → dedupe →
 * fields or payload template. `entryAsSent` is "the entry as this destination sees it", for every
 * consumer that shows entries (match, tap) as well as for delivery.
 */
import type { JsonPath } from '../event/json-scan.ts';
import type { KongEvent } from '../event/kong-event.ts';
import type { Template } from '../event/template.ts';
import { Deduper, type DedupeSettings } from './dedupe.ts';
import type { FieldSelection } from './fields.ts';
import type { PayloadTemplate } from './payload.ts';
import { Redactor, redactionPaths, type RedactPolicy } from './redact.ts';

/** What a destination does to entries (resolved config). */
export interface ShapeSettings {
  readonly redact: RedactPolicy | null;
  readonly fields: FieldSelection | null;
  readonly payload: PayloadTemplate | null;
  readonly dedupe: DedupeSettings | null;
  /** Some template of the destination reads {match.NAME}: the router must find the captures. */
  needsCaptures: boolean;
}

/** Redactors by policy, shared by the destinations of one pipeline: an entry is masked once per policy. */
export class Redactors {
  readonly #byPolicy = new Map<string, Redactor>();

  for(policy: RedactPolicy): Redactor {
    const key = JSON.stringify(policy);
    let r = this.#byPolicy.get(key);
    if (r === undefined) {
      r = new Redactor(policy);
      this.#byPolicy.set(key, r);
    }
    return r;
  }
}

export class Shaper {
  readonly needsCaptures: boolean;
  readonly #settings: ShapeSettings;
  readonly #redactor: Redactor | null;
  readonly #deduper: Deduper | null;

  constructor(settings: ShapeSettings, redactors: Redactors) {
    this.#settings = settings;
    this.needsCaptures = settings.needsCaptures;
    this.#redactor = settings.redact === null ? null : redactors.for(settings.redact);
    this.#deduper = settings.dedupe === null ? null : new Deduper(settings.dedupe);
  }

  /** The entry as the destination sends it, or null when dedupe suppresses it. */
  shape(event: KongEvent, captures: Readonly<Record<string, string>> | null, now = Date.now()): KongEvent | null {
    const shaped = entryAsSent(this.#settings, this.#redactor, event, captures);
    if (this.#deduper !== null && !this.#deduper.admit(shaped, now)) return null;
    return shaped;
  }

  /** The entry as the destination would send it, without touching dedupe state (match, tap). */
  preview(event: KongEvent, captures: Readonly<Record<string, string>> | null): KongEvent {
    return entryAsSent(this.#settings, this.#redactor, event, captures);
  }
}

/** The entry as a destination with these settings sees it: redacted, then cut to fields or templated. */
export function entryAsSent(
  settings: ShapeSettings,
  redactor: Redactor | null,
  event: KongEvent,
  captures: Readonly<Record<string, string>> | null,
): KongEvent {
  const redacted = redactor === null ? event : redactor.redact(event);
  const withCaptures = captures === null ? redacted : redacted.withBody(redacted.raw, captures);
  if (settings.payload !== null) return redacted.withBody(settings.payload.render(withCaptures), captures);
  if (settings.fields !== null) return redacted.withBody(settings.fields.render(redacted), captures);
  return withCaptures;
}

/** The JSON paths the decoder must locate for a destination's shaping. */
export function shapePaths(settings: ShapeSettings): JsonPath[] {
  return [
    ...(settings.redact === null ? [] : redactionPaths(settings.redact)),
    ...(settings.fields?.paths ?? []),
    ...(settings.payload?.paths ?? []),
    ...(settings.dedupe?.unique.flatMap((t: Template) => t.paths) ?? []),
  ];
}
