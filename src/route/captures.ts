/**
 * Named capture groups of rule regexes (`'^/profile/(?<id>\d+)$'` → `{match.id}` in templates).
 * The one place that asks the regex engine for groups, so the engine behind rule paths can change.
 */

/** The names of the named groups in a rule pattern, in order of appearance. */
export function captureNames(pattern: RegExp): string[] {
  const names: string[] = [];
  // (?<name> opens a named group; (?<= and (?<! are lookbehinds. Escaped "\(" is skipped.
  const source = pattern.source;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '(' && source.startsWith('(?<', i) && source[i + 3] !== '=' && source[i + 3] !== '!') {
      const close = source.indexOf('>', i + 3);
      if (close > i + 3) names.push(source.slice(i + 3, close));
    }
  }
  return names;
}

/**
 * The named groups of `pattern` matched against `text`: name → matched text ("" for a group that
 * took no part), in an object without a prototype (group names never reach Object.prototype);
 * null when the pattern does not match or has no named groups.
 */
export function captures(pattern: RegExp, text: string): Readonly<Record<string, string>> | null {
  pattern.lastIndex = 0;
  const m = pattern.exec(text);
  if (m === null || m.groups === undefined) return null;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(m.groups)) out[name] = value ?? '';
  return out;
}
