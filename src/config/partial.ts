/**
 * The part of a document the schema accepts, entry by entry: a source, destination, workspace or
 * rule that fails the schema is left out, and so is any other section that fails (its default
 * takes its place). The checks that need parsed data (credentials, listen addresses, workspace
 * ids, templates) then run on the rest, so one `validate` lists every problem.
 */
import type { ZodType } from 'zod';
import { configSchema, type ParsedConfig } from './schema.ts';

interface ZodDefLike {
  type: string;
  [k: string]: unknown;
}

function defOf(s: ZodType): ZodDefLike {
  return (s as unknown as { _zod: { def: ZodDefLike } })._zod.def;
}

/** The document with what fails the schema left out; null when even that does not parse. */
export function parsePartial(raw: unknown): ParsedConfig | null {
  const doc = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const shape = defOf(configSchema).shape as Record<string, ZodType>;
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const whole = schema.safeParse(doc[key]);
    if (whole.success) {
      out[key] = whole.data;
      continue;
    }
    out[key] = entryByEntry(schema, doc[key]) ?? schema.safeParse(undefined).data;
  }
  // The sections that must not be empty are checked by the schema; here an empty one is fine.
  out.sources ??= {};
  out.destinations ??= {};
  return out as ParsedConfig;
}

/** A map or list section with only the entries its element schema accepts; undefined for other sections. */
function entryByEntry(schema: ZodType, value: unknown): unknown {
  let s = schema;
  while (defOf(s).type === 'default' || defOf(s).type === 'optional') s = defOf(s).innerType as ZodType;
  const def = defOf(s);
  if (def.type === 'record' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const element = def.valueType as ZodType;
    const kept: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = lenient(element, v);
      if (r !== undefined) kept[k] = r;
    }
    return kept;
  }
  if (def.type === 'array' && Array.isArray(value)) {
    const element = def.element as ZodType;
    return value.flatMap((v) => {
      const r = lenient(element, v);
      return r === undefined ? [] : [r];
    });
  }
  return undefined;
}

/** The parsed value, or, when only unknown keys made it fail, the value without them; undefined otherwise. */
function lenient(schema: ZodType, value: unknown): unknown {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (r.error.issues.some((i) => i.code !== 'unrecognized_keys' || i.path.length > 0)) return undefined;
  const unknown = new Set(r.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : [])));
  const known = Object.fromEntries(Object.entries(value).filter(([k]) => !unknown.has(k)));
  const again = schema.safeParse(known);
  return again.success ? again.data : undefined;
}
