/**
 * Load a config file: YAML with source positions → `${VAR}` interpolation → schema →
 * resolution. Every problem is collected (not just the first) and located as FILE:LINE:COL.
 */
import { readFileSync } from 'node:fs';
import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Node,
  type Scalar,
} from 'yaml';
import type { ZodType } from 'zod';
import type { ConfigPath, Diagnostic } from './diagnostics.ts';
import { yamlErrorHint } from './hints.ts';
import { parsePartial } from './partial.ts';
import { checkReferences, resolveConfig, type ResolvedConfig } from './resolve.ts';
import { checkReservedKeys } from './reserved-keys.ts';
import { configSchema } from './schema.ts';

export interface LoadResult {
  readonly config: ResolvedConfig | null;
  /** Errors and warnings, located, in file order. */
  readonly diagnostics: readonly Diagnostic[];
}

export type Environment = Readonly<Record<string, string | undefined>>;

export interface LoadOptions {
  /**
   * What an unset `${VAR}` (without a default) is: an error (run, reload, replay), or a warning for
   * commands that do not need every secret (validate, match); the value then keeps the text `${VAR}`.
   */
  readonly unsetVariables?: 'error' | 'warning';
}

/** Read and check a config file; never throws for a bad file (the problems are in `diagnostics`). */
export function loadConfigFile(file: string, env: Environment = process.env, options: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    return {
      config: null,
      diagnostics: [
        { severity: 'error', code: 'KLR_CONFIG_READ', path: [], message: `cannot read config: ${reason}`, file },
      ],
    };
  }
  return loadConfigText(text, file, env, options);
}

export function loadConfigText(
  text: string,
  file: string,
  env: Environment = process.env,
  options: LoadOptions = {},
): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: false, strict: true });
  const diagnostics: Diagnostic[] = [];
  const at = (offset: number): { line: number; col: number } => lineCounter.linePos(offset);

  // A line of garbage can give one syntax error per character: the first ones say what is wrong.
  for (const e of doc.errors.slice(0, MAX_YAML_ERRORS)) {
    const { line, col } = at(e.pos[0]);
    const duplicate = e.code === 'DUPLICATE_KEY';
    const key = duplicate ? /^["']?([^"':\n]+)/.exec(text.slice(e.pos[0], e.pos[0] + 200))?.[1]?.trim() : undefined;
    diagnostics.push({
      severity: 'error',
      code: duplicate ? 'KLR_CONFIG_DUPLICATE' : 'KLR_CONFIG_YAML',
      path: [],
      message: duplicate
        ? `duplicate key${key ? ` "${key}"` : ''}: each name may be defined once in a map`
        : `YAML: ${firstLine(e.message)}`,
      hint: yamlErrorHint(e.code),
      file,
      line,
      col,
    });
  }
  if (doc.errors.length > MAX_YAML_ERRORS) {
    const { line, col } = at(doc.errors[MAX_YAML_ERRORS].pos[0]);
    diagnostics.push({
      severity: 'error',
      code: 'KLR_CONFIG_YAML',
      path: [],
      message: `YAML: ${doc.errors.length - MAX_YAML_ERRORS} more syntax errors from here on (fix the first ones)`,
      file,
      line,
      col,
    });
  }
  if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY'))
    return { config: null, diagnostics: sortByPlace(diagnostics) };

  const unsetSeverity = options.unsetVariables ?? 'error';
  interpolate(doc, env, unsetSeverity === 'warning', (node, yamlPath, message, unset) => {
    const { line, col } = at(node.range?.[0] ?? 0);
    const severity = unset ? unsetSeverity : 'error';
    diagnostics.push({ severity, code: 'KLR_CONFIG_ENV', path: yamlPath, message, file, line, col });
  });

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (e) {
    // Unresolved aliases and alias bombs surface only when the document is built.
    diagnostics.push({
      severity: 'error',
      code: 'KLR_CONFIG_YAML',
      path: [],
      message: `YAML: ${firstLine((e as Error).message)}`,
      file,
      line: 1,
      col: 1,
    });
    return { config: null, diagnostics: sortByPlace(diagnostics) };
  }
  const place = (d: Diagnostic): Diagnostic => ({ ...d, file, ...at(offsetOf(doc, d.path, d.atKey === true)) });
  diagnostics.push(...checkReferences(raw).map(place));
  diagnostics.push(...checkReservedKeys(raw).map(place));
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const p = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        const expected = expectedKeys(configSchema, raw, p);
        for (const key of issue.keys) {
          const hint = expected.length > 0 ? `; expected one of: ${expected.join(', ')}` : '';
          diagnostics.push(
            place({
              severity: 'error',
              code: 'KLR_CONFIG_UNKNOWN_KEY',
              path: [...p, key],
              atKey: true,
              message: `unknown key "${key}"${hint}`,
            }),
          );
        }
      } else {
        diagnostics.push(
          place({
            severity: 'error',
            code: 'KLR_CONFIG_INVALID',
            path: p,
            message: describeIssue(issue.message, issue.code),
          }),
        );
      }
    }
    // The checks that need parsed data still run on what the schema accepted (one run, every problem).
    const partial = parsePartial(raw);
    if (partial !== null) diagnostics.push(...resolveConfig(partial, file).diagnostics.map(place));
    return { config: null, diagnostics: sortByPlace(diagnostics) };
  }
  const resolved = resolveConfig(parsed.data, file);
  diagnostics.push(...resolved.diagnostics.map(place));
  const ok = !diagnostics.some((d) => d.severity === 'error');
  return { config: ok ? resolved.config : null, diagnostics: sortByPlace(diagnostics) };
}

/**
 * Place diagnostics found after loading (checks against the Kong Admin API) in the config file:
 * FILE:LINE:COL of each path, as for every other config problem. The file is read again.
 */
export function locateDiagnostics(file: string, diagnostics: readonly Diagnostic[]): Diagnostic[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // placed at 1:1 below
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: false });
  return sortByPlace(
    diagnostics.map((d) => ({ ...d, file, ...lineCounter.linePos(offsetOf(doc, d.path, d.atKey === true)) })),
  );
}

/** YAML syntax errors reported one by one; past this, one line counts the rest. */
const MAX_YAML_ERRORS = 20;

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$\{/g;

/**
 * Replace `${VAR}` / `${VAR:-default}` in every string scalar; `$${` is a literal `${`. An unset
 * variable is reported; with `keepUnset` its `${VAR}` text stays in the value and the rest is replaced.
 */
function interpolate(
  doc: Document,
  env: Environment,
  keepUnset: boolean,
  report: (node: Scalar, path: ConfigPath, message: string, unset: boolean) => void,
): void {
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const missing: string[] = [];
      const value = node.value.replace(ENV_REF, (whole, name: string | undefined, fallback: string | undefined) => {
        if (name === undefined) return '${';
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (fallback !== undefined) return fallback;
        missing.push(name);
        return whole;
      });
      if (missing.length > 0) {
        report(
          node,
          yamlPathOf(ancestors, node),
          `environment variable ${missing.map((m) => `\${${m}}`).join(', ')} is not set (use \${NAME:-default} for a default)`,
          true,
        );
        if (!keepUnset) return;
        node.value = value;
        return;
      }
      if (/\$\{(?!\})/.test(value.replace(ENV_REF, '')))
        report(
          node,
          yamlPathOf(ancestors, node),
          'malformed ${…} reference: expected ${NAME} or ${NAME:-default}',
          false,
        );
      // An unquoted `${PORT}` takes the type the value would have had if written there.
      node.value = node.type === 'PLAIN' ? plainScalar(value) : value;
    },
  });
}

/** The config path of a node from the visitor's ancestors (maps give keys, sequences indices). */
function yamlPathOf(ancestors: readonly unknown[], node: unknown): ConfigPath {
  const out: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isPair(parent) && isScalar(parent.key) && parent.value === child) out.push(String(parent.key.value));
    else if (isSeq(parent)) out.push(parent.items.indexOf(child as never));
  }
  return out;
}

function plainScalar(value: string): string | number | boolean {
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

/** Offset of the node at a path (its key when atKey), or of the deepest node that exists. */
function offsetOf(doc: Document, p: ConfigPath, atKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (let i = 0; i < p.length; i++) {
    const seg = p[i];
    const last = i === p.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node;
      offset = keyNode.range?.[0] ?? offset;
      if (last && atKey) break;
      node = pair.value;
      const valueOffset = (pair.value as Node | null)?.range?.[0];
      if (valueOffset !== undefined) offset = valueOffset;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

/** The keys the schema allows at a path, for "did you mean" help on unknown keys. */
function expectedKeys(schema: ZodType, data: unknown, p: ConfigPath): string[] {
  let s: ZodType | undefined = schema;
  let d: unknown = data;
  for (let i = 0; i <= p.length && s !== undefined; i++) {
    s = unwrap(s, d);
    if (i === p.length) break;
    const seg = p[i];
    const def = defOf(s);
    if (def.type === 'object') s = (def.shape as Record<string, ZodType>)[String(seg)];
    else if (def.type === 'record') s = def.valueType as ZodType;
    else if (def.type === 'array') s = def.element as ZodType;
    else s = undefined;
    d = d !== null && typeof d === 'object' ? (d as Record<string, unknown>)[String(seg)] : undefined;
  }
  if (s === undefined) return [];
  const def = defOf(s);
  return def.type === 'object' ? Object.keys(def.shape as Record<string, ZodType>) : [];
}

interface ZodDefLike {
  type: string;
  [k: string]: unknown;
}
function defOf(s: ZodType): ZodDefLike {
  return (s as unknown as { _zod: { def: ZodDefLike } })._zod.def;
}

/** Look through optional/default wrappers and pick the union member the data selects. */
function unwrap(s: ZodType, data: unknown): ZodType {
  for (;;) {
    const def = defOf(s);
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') {
      s = def.innerType as ZodType;
      continue;
    }
    if (def.type === 'pipe') {
      s = def.in as ZodType;
      continue;
    }
    if (def.type === 'union') {
      const options = def.options as ZodType[];
      const discriminator = def.discriminator as string | undefined;
      const tag =
        discriminator !== undefined && data !== null && typeof data === 'object'
          ? (data as Record<string, unknown>)[discriminator]
          : undefined;
      const objects = options.map((o) => unwrap(o, data)).filter((o) => defOf(o).type === 'object');
      const chosen =
        objects.find((o) => {
          const lit = (defOf(o).shape as Record<string, ZodType>)[discriminator ?? ''];
          return lit !== undefined && (defOf(lit).values as unknown[] | undefined)?.includes(tag);
        }) ?? objects[0];
      if (chosen === undefined) return s;
      s = chosen;
      continue;
    }
    return s;
  }
}

function describeIssue(message: string, code: string): string {
  if (code === 'invalid_type' && message.includes('received undefined'))
    return message.replace(/^Invalid input: expected (.*), received undefined$/, 'missing required key (expected $1)');
  return message.replace(/^Invalid input: /, '');
}

/** The first line of a parser message; the parser's own stack overflow on absurd nesting said plainly. */
function firstLine(s: string): string {
  if (s.includes('Maximum call stack size exceeded')) return 'nested too deeply to be parsed';
  return s.split('\n')[0];
}

function sortByPlace(ds: Diagnostic[]): Diagnostic[] {
  return ds.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}
