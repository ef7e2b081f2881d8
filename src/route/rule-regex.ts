/**
 * The regexes of rules (`path`, `upstream_path`, `host`, `headers`), matched in linear time.
 *
 * Paths, hosts and headers come from any anonymous client of Kong. A backtracking engine (the
 * JS RegExp) takes exponential time on patterns such as `^/api/(\d|\w|_)*\/items$` with a path of
 * digits (26 s for 33 digits, doubling with each one), so rules are compiled with re2js, the
 * pure-JS port of RE2 (runs under Node and Deno alike): its time is linear in the input for every
 * pattern it accepts. It accepts RE2 syntax: what JS regexes write in rules works (classes,
 * anchors, `{n,m}`, named groups `(?<id>…)`), backreferences and lookaround do not; `compile`
 * names the problem.
 */
import { RE2JS, RE2JSException } from 're2js';

/** Named groups of a match: group name → the text it matched (a group that took no part is absent). */
export type NamedCaptures = ReadonlyMap<string, string>;

export class RuleRegex {
  readonly source: string;
  readonly #compiled: RE2JS;
  readonly #groupNames: readonly string[];

  private constructor(source: string, compiled: RE2JS) {
    this.source = source;
    this.#compiled = compiled;
    this.#groupNames = Object.keys(compiled.namedGroups());
  }

  /** The compiled regex, or why RE2 refuses it (a one-line message naming the construct). */
  static compile(source: string, options: { readonly ignoreCase?: boolean } = {}): RuleRegex | string {
    try {
      return new RuleRegex(source, RE2JS.compile(source, options.ignoreCase === true ? RE2JS.CASE_INSENSITIVE : 0));
    } catch (e) {
      if (!(e instanceof RE2JSException)) throw e;
      return unsupportedReason(source, e.message);
    }
  }

  /** The names of its named groups, in order of appearance. */
  get groupNames(): readonly string[] {
    return this.#groupNames;
  }

  /** Whether the regex matches anywhere in `value` (like RegExp#test). */
  test(value: string): boolean {
    return this.#compiled.test(value);
  }

  /**
   * The named captures of the first match in `value`, or null when it does not match. The one
   * place that extracts rule captures (payload templates use them through this).
   */
  namedCaptures(value: string): NamedCaptures | null {
    const matcher = this.#compiled.matcher(value);
    if (!matcher.find()) return null;
    const out = new Map<string, string>();
    for (const name of this.#groupNames) {
      const text = matcher.group(name);
      if (text !== null) out.set(name, text);
    }
    return out;
  }
}

/** RE2's message, with a hint for what JS regexes have and RE2 deliberately lacks. */
function unsupportedReason(source: string, message: string): string {
  const detail = message.replace(/^error parsing regexp: /, '');
  if (/\\[1-9]/.test(source))
    return `${detail}: backreferences (\\1) are not supported (rule regexes run on RE2, in linear time)`;
  if (/\(\?<?[=!]/.test(source))
    return `${detail}: lookahead and lookbehind ((?=…), (?!…), (?<=…), (?<!…)) are not supported (rule regexes run on RE2, in linear time)`;
  return `${detail} (rule regexes use RE2 syntax)`;
}
