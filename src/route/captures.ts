/**
 * Named capture groups of rule regexes (`'^/profile/(?<id>\d+)$'` → `{match.id}` in templates),
 * read through RuleRegex (the linear-time engine behind rule paths).
 */
import type { RuleRegex } from './rule-regex.ts';

/** The names of the named groups in a rule pattern, in order of appearance. */
export function captureNames(pattern: RuleRegex): readonly string[] {
  return pattern.groupNames;
}

/**
 * The named groups of `pattern` matched against `text`: name → matched text ("" for a group that
 * took no part), in an object without a prototype (group names never reach Object.prototype);
 * null when the pattern does not match or has no named groups.
 */
export function captures(pattern: RuleRegex, text: string): Readonly<Record<string, string>> | null {
  if (pattern.groupNames.length === 0) return null;
  const found = pattern.namedCaptures(text);
  if (found === null) return null;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of pattern.groupNames) out[name] = found.get(name) ?? '';
  return out;
}
