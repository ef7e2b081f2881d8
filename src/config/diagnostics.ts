/** Config problems with stable codes, the YAML path and the place in the file. */

export type DiagnosticCode =
  | 'KLR_CONFIG_READ'
  | 'KLR_CONFIG_YAML'
  | 'KLR_CONFIG_UNKNOWN_KEY'
  | 'KLR_CONFIG_INVALID'
  | 'KLR_CONFIG_ENV'
  | 'KLR_CONFIG_REGEX'
  | 'KLR_CONFIG_TEMPLATE'
  | 'KLR_CONFIG_UNDEFINED_DESTINATION'
  | 'KLR_CONFIG_DUPLICATE'
  | 'KLR_CONFIG_UNUSED_DESTINATION'
  | 'KLR_CONFIG_CONFLICT'
  /** The config names something the live gateway does not have (validate --kong-admin, start-up check). */
  | 'KLR_CONFIG_KONG_ADMIN';

export type ConfigPath = readonly (string | number)[];

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly code: DiagnosticCode;
  /** Where in the YAML document, e.g. ["rules", 0, "when", "path"]. */
  readonly path: ConfigPath;
  readonly message: string;
  /** A plain-language suggestion, printed on the line under the problem. */
  readonly hint?: string;
  /** Point at the key instead of the value (unknown keys, duplicates). */
  readonly atKey?: boolean;
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
}

export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(top level)' : out;
}

/**
 * `FILE:LINE:COL: error KLR_…: path: message` — one line per problem, grep- and editor-friendly;
 * a hint, if any, on the next line, indented.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file === undefined ? '' : `${d.file}:${d.line ?? 1}:${d.col ?? 1}: `;
  const line = `${where}${d.severity} ${d.code}: ${formatPath(d.path)}: ${oneLine(d.message)}`;
  return d.hint === undefined ? line : `${line}\n  hint: ${oneLine(d.hint)}`;
}

/** Messages quote config text (key names, regexes): a control character in it must not break the one line. */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}
