/**
 * Resolving a destination's shaping (redact, fields, payload, unique/snooze) and checking that
 * every placeholder of its templates can resolve: an unknown {match.NAME} (no rule that routes to
 * the destination has that named group) or a top-level field Kong never writes is a config error.
 */
import type { ConfigPath, Diagnostic } from './diagnostics.ts';
import type { DestinationConfig, ParsedConfig } from './schema.ts';
import { parseDuration } from './units.ts';
import { DERIVED_FIELDS, Template, TemplateSyntaxError, type Placeholder } from '../event/template.ts';
import { DEFAULT_MAX_KEYS, DEFAULT_SNOOZE } from '../shape/dedupe.ts';
import { FieldSelection, fieldPath } from '../shape/fields.ts';
import { PayloadTemplate } from '../shape/payload.ts';
import type { RedactPolicy } from '../shape/redact.ts';
import { DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_QUERY, DEFAULT_REPLACEMENT } from './shape-schema.ts';
import type { ShapeSettings } from '../shape/shaper.ts';

/**
 * The top-level fields of Kong's log entries (kong.log.serialize(), 2.x–3.x, http and stream),
 * besides the relay's derived names ({workspace}, {path}, …).
 */
export const KONG_FIELDS: readonly string[] = [
  'request',
  'response',
  'upstream_uri',
  'upstream_status',
  'latencies',
  'tries',
  'route',
  'service',
  'consumer',
  'authenticated_entity',
  'client_ip',
  'started_at',
  'source',
  'workspace',
  'workspace_name',
  'workspaces',
  'session',
  'upstream',
];

/** What the templates of one destination may refer to. */
export interface TemplateScope {
  /** Named groups of the path regexes of the rules that route to the destination. */
  readonly captureNames: ReadonlySet<string>;
  /** Declared custom_fields_by_lua keys. */
  readonly customFields: ReadonlySet<string>;
}

type Report = (at: ConfigPath, message: string) => void;

/** The destination's shaping; templates besides the payload (subject, attributes, headers) are checked by checkTemplate. */
export function resolveShape(
  d: DestinationConfig,
  parsed: ParsedConfig,
  at: ConfigPath,
  scope: TemplateScope,
  diagnostics: Diagnostic[],
): ShapeSettings {
  const report: Report = (p, message) =>
    diagnostics.push({ severity: 'error', code: 'KLR_CONFIG_TEMPLATE', path: [...at, ...p], message });
  let needsCaptures = false;
  const check = (t: Template, p: ConfigPath): void => {
    checkTemplate(t, [...at, ...p], scope, diagnostics);
    if (t.placeholders.some((x) => 'match' in x)) needsCaptures = true;
  };

  if (d.fields !== undefined && d.payload !== undefined)
    diagnostics.push({
      severity: 'error',
      code: 'KLR_CONFIG_CONFLICT',
      path: [...at, 'payload'],
      message: 'fields and payload cannot both be set: payload builds the whole body',
    });
  const fields = d.fields === undefined ? null : new FieldSelection(d.fields);
  for (const [i, f] of (d.fields ?? []).entries())
    checkField(fieldPath(f), f, [...at, 'fields', i], scope, diagnostics);

  let payload: PayloadTemplate | null = null;
  if (d.payload !== undefined) {
    payload = PayloadTemplate.compile(d.payload, (p, m) => report(['payload', ...p], m));
    for (const t of payload.templates) check(t.template, ['payload', ...t.at]);
  }

  let dedupe: ShapeSettings['dedupe'] = null;
  if (d.unique !== undefined) {
    const unique: Template[] = [];
    d.unique.forEach((f, i) => {
      try {
        const t = Template.parse(`{${f}}`);
        check(t, ['unique', i]);
        unique.push(t);
      } catch (e) {
        if (!(e instanceof TemplateSyntaxError)) throw e;
        report(['unique', i], `expected a field such as consumer.id or match.id: ${e.message}`);
      }
    });
    dedupe = {
      unique,
      snoozeMs: parseDuration(d.snooze ?? DEFAULT_SNOOZE),
      maxKeys: d.max_keys ?? DEFAULT_MAX_KEYS,
    };
  } else if (d.snooze !== undefined || d.max_keys !== undefined) {
    diagnostics.push({
      severity: 'error',
      code: 'KLR_CONFIG_CONFLICT',
      path: [...at, d.snooze !== undefined ? 'snooze' : 'max_keys'],
      message: 'snooze and max_keys set the dedupe of unique: set unique too',
    });
  }

  return { redact: redactPolicy(parsed.redact, d.redact), fields, payload, dedupe, needsCaptures };
}

/** The destination's masking: the defaults, extended by the top level and by the destination; null when off. */
export function redactPolicy(top: ParsedConfig['redact'], own: DestinationConfig['redact']): RedactPolicy | null {
  if (own === false || (top === false && own === undefined)) return null;
  const layers = [top, own].filter((l) => typeof l === 'object');
  const lower = (xs: readonly string[]): string[] => [...new Set(xs.map((x) => x.toLowerCase()))];
  return {
    headers: lower([...DEFAULT_REDACT_HEADERS, ...layers.flatMap((l) => l.headers ?? [])]),
    query: lower([...DEFAULT_REDACT_QUERY, ...layers.flatMap((l) => l.query ?? [])]),
    paths: [...new Set(layers.flatMap((l) => l.paths ?? []))].map(fieldPath),
    replacement: layers.reduce<string | undefined>((r, l) => l.replacement ?? r, undefined) ?? DEFAULT_REPLACEMENT,
  };
}

/** Report each placeholder of `t` (at config path `at`) that can never resolve. */
export function checkTemplate(t: Template, at: ConfigPath, scope: TemplateScope, diagnostics: Diagnostic[]): void {
  for (const p of t.placeholders) checkPlaceholder(p, at, scope, diagnostics);
}

function checkPlaceholder(p: Placeholder, at: ConfigPath, scope: TemplateScope, diagnostics: Diagnostic[]): void {
  if ('match' in p) {
    if (scope.captureNames.has(p.match)) return;
    const known = [...scope.captureNames];
    diagnostics.push({
      severity: 'error',
      code: 'KLR_CONFIG_TEMPLATE',
      path: at,
      message: `{${p.field}} can never resolve: no rule that routes to this destination has a named group "${p.match}" in its path regex${known.length > 0 ? ` (groups: ${known.join(', ')})` : ` (write one as '^/profile/(?<${p.match}>\\d+)$')`}`,
    });
    return;
  }
  if ('path' in p) checkField(p.path, p.field, at, scope, diagnostics);
}

function checkField(
  path: readonly (string | number)[],
  field: string,
  at: ConfigPath,
  scope: TemplateScope,
  diagnostics: Diagnostic[],
): void {
  const top = String(path[0]);
  if (KONG_FIELDS.includes(top) || scope.customFields.has(top) || (DERIVED_FIELDS as readonly string[]).includes(top))
    return;
  const near = [...KONG_FIELDS, ...DERIVED_FIELDS].filter((k) => distance(k, top) <= 2);
  diagnostics.push({
    severity: 'error',
    code: 'KLR_CONFIG_TEMPLATE',
    path: at,
    message: `{${field}} can never resolve: Kong log entries have no top-level field "${top}"${near.length > 0 ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : ''} (fields: ${KONG_FIELDS.join(', ')}; derived: ${DERIVED_FIELDS.join(', ')}; keys added by custom_fields_by_lua are declared in custom_fields)`,
  });
}

/** Levenshtein distance (short config words only). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}
