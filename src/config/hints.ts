/**
 * Plain-language hints for the mistakes people make in their first config: YAML indentation,
 * regexes in double quotes, Kong's `{name}` path parameters written into a regex.
 */

/** A hint for a YAML syntax error of the `yaml` library (by its error code), or undefined. */
export function yamlErrorHint(code: string): string | undefined {
  switch (code) {
    case 'BAD_DQ_ESCAPE':
      return `in double quotes YAML treats backslashes as escapes: write regexes in single quotes, e.g. path: '^/profile/\\d+$'`;
    case 'TAB_AS_INDENT':
      return 'indent with spaces, never tabs';
    case 'BAD_INDENT':
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
    case 'MISSING_CHAR':
    case 'UNEXPECTED_TOKEN':
      return 'check the indentation: keys of one map start in the same column, a nested map is indented further on the next line (not after "key:" on the same line), and a value that contains ": " must be quoted';
    default:
      return undefined;
  }
}

/** `{name}` not escaped in a regex: Kong's path-parameter syntax, which a regex takes as literal braces. */
const KONG_PATH_PARAMETER = /(?<!\\)\{([A-Za-z_][A-Za-z0-9_]*)\}/;

/** An explanation when a rule regex uses Kong's `{name}` path-parameter syntax, or undefined. */
export function kongPathParameterProblem(source: string): { message: string; hint: string } | undefined {
  const m = KONG_PATH_PARAMETER.exec(source);
  if (m === null) return undefined;
  const name = m[1];
  return {
    message: `regex /${source}/ contains {${name}}, which a regex matches only as the literal text "{${name}}"`,
    hint: `{${name}} is Kong's path-parameter syntax, not a regex: use (?<${name}>[^/]+) (or \\{${name}\\} for literal braces)`,
  };
}
