/**
 * Structure-aware mutations of a valid config, for fuzzing `validate`: parsed YAML is changed
 * where it hurts (keys deleted, renamed or added, values of the wrong type, odd durations, sizes,
 * regexes, templates and ${VAR} references, subtrees swapped or duplicated), written back as
 * YAML, and sometimes damaged as text (aliases, duplicate keys, tabs, BOM, NUL, deep nesting).
 */
import { stringify } from 'yaml';
import type { SeededRandom } from './seeded-random.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ODD_STRINGS = [
  '',
  ' ',
  '0',
  '-1s',
  '1e9h',
  '99999999999999GiB',
  '1.5.5ms',
  'NaNms',
  'Infinity',
  '0x10',
  '10 MiB',
  '5 minutes',
  '(',
  '[z-a]',
  '(a+)+$',
  '(.*a){25}',
  '(?<=x)y',
  '\\',
  '^/profile/\\d+$',
  'x'.repeat(5000),
  '{request.method}',
  '{',
  '}',
  '{{}}',
  '{no.such.field}',
  '{request.headers.authorization}',
  '${MISSING_VAR}',
  '${A:-}',
  '$${ESCAPED}',
  '${',
  '${1BAD}',
  '${HOME}',
  'arn:aws:sns:us-east-1:123:short',
  'arn:aws:sns:us-east-1:123456789012:t.fifo',
  'http://',
  'ftp://x/y',
  'unix:',
  'unix:/tmp/x.sock',
  '[::1]:99999',
  ':0',
  '../../../../etc/passwd',
  '/dev/full',
  '\u0000',
  '\u202e',
  'é'.repeat(100),
  'true',
  'null',
  '~',
  '- a',
  'a: b',
  '#',
  '&anchor',
  '*alias',
];
const ODD_VALUES: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53,
  65536,
  100_001,
  [],
  {},
  [null],
  { '': '' },
  [[[[]]]],
  { a: { b: { c: {} } } },
];
const KEYS = [
  'type',
  'paths',
  'listen',
  'auth',
  'bearer',
  'none',
  'to',
  'when',
  'unless',
  'path',
  'methods',
  'status',
  'headers',
  'batch',
  'retry',
  'buffer',
  'when_full',
  'max_events',
  'topic_arn',
  'url',
  'encoding',
  'signing',
  'secret',
  'dead_letter',
  'dir',
  'id',
  '*',
  '__proto__',
  'constructor',
  'bogus',
  '',
  'two\nlines',
];

interface Slot {
  readonly parent: Json[] | { [key: string]: Json };
  readonly key: string | number;
}

/** Every place a value sits (map entries and list items), depth first. */
function slots(value: Json, out: Slot[] = []): Slot[] {
  if (Array.isArray(value))
    value.forEach((v, i) => {
      out.push({ parent: value, key: i });
      slots(v, out);
    });
  else if (value !== null && typeof value === 'object')
    for (const k of Object.keys(value)) {
      out.push({ parent: value, key: k });
      slots(value[k], out);
    }
  return out;
}

function maps(value: Json, out: { [key: string]: Json }[] = []): { [key: string]: Json }[] {
  if (Array.isArray(value)) for (const v of value) maps(v, out);
  else if (value !== null && typeof value === 'object') {
    out.push(value);
    for (const v of Object.values(value)) maps(v, out);
  }
  return out;
}

function get(slot: Slot): Json {
  return (slot.parent as Record<string | number, Json>)[slot.key];
}
function set(slot: Slot, v: Json): void {
  (slot.parent as Record<string | number, Json>)[slot.key] = v;
}

function oddValue(random: SeededRandom): Json {
  return random.next() < 0.6 ? random.pick(ODD_STRINGS) : structuredClone(random.pick(ODD_VALUES));
}

/** Apply 1–4 structure-aware mutations to a copy of `config`. */
export function mutateConfig(config: Json, random: SeededRandom): Json {
  const doc = structuredClone(config);
  const rounds = random.int(1, 4);
  for (let r = 0; r < rounds; r++) {
    const all = slots(doc);
    if (all.length === 0) break;
    const slot = random.pick(all);
    switch (random.int(0, 7)) {
      case 0: // delete
        if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
        else delete slot.parent[slot.key as string];
        break;
      case 1: // wrong type or odd value
        set(slot, oddValue(random));
        break;
      case 2: {
        // unknown or misplaced key
        const map = random.pick(maps(doc));
        map[random.pick(KEYS)] = oddValue(random);
        break;
      }
      case 3: {
        // rename a key (typo, case, another valid key)
        if (Array.isArray(slot.parent)) break;
        const v = get(slot);
        delete slot.parent[slot.key as string];
        const k = slot.key as string;
        slot.parent[random.pick([k.toUpperCase(), `${k}s`, k.slice(1), random.pick(KEYS)])] = v;
        break;
      }
      case 4: {
        // swap two subtrees
        const other = random.pick(all);
        const a = structuredClone(get(slot));
        set(slot, structuredClone(get(other)));
        set(other, a);
        break;
      }
      case 5: // duplicate a subtree under a new name / at the end of a list
        if (Array.isArray(slot.parent)) slot.parent.push(structuredClone(get(slot)));
        else slot.parent[`${slot.key}_copy`] = structuredClone(get(slot));
        break;
      case 6: // a string where a list or map was, or a list of it
        set(slot, random.next() < 0.5 ? [get(slot), get(slot)] : JSON.stringify(get(slot)));
        break;
      default: {
        // deep nesting
        let v: Json = oddValue(random);
        for (let d = random.int(10, 300); d > 0; d--) v = random.next() < 0.5 ? [v] : { n: v };
        set(slot, v);
      }
    }
  }
  return doc;
}

/** The YAML text of a mutated config, sometimes damaged as text as well. */
export function mutatedYaml(config: Json, random: SeededRandom): string {
  let text: string;
  try {
    text = stringify(mutateConfig(config, random), { aliasDuplicateObjects: false, lineWidth: 0 });
  } catch {
    text = JSON.stringify(mutateConfig(config, random));
  }
  if (random.next() < 0.35) text = damageText(text, random);
  return text;
}

function damageText(text: string, random: SeededRandom): string {
  const lines = text.split('\n');
  const at = random.int(0, Math.max(0, lines.length - 1));
  switch (random.int(0, 11)) {
    case 0:
      return `\ufeff${text}`;
    case 1:
      return text.replace(/\n/g, '\r\n');
    case 2:
      lines.splice(at, 0, lines[at] ?? '');
      return lines.join('\n'); // duplicate key
    case 3:
      lines[at] = (lines[at] ?? '').replace(/^( +)/, (s) => '\t'.repeat(s.length / 2));
      return lines.join('\n');
    case 4:
      return `${text.slice(0, random.int(0, text.length))}\u0000${text.slice(random.int(0, text.length))}`;
    case 5:
      return `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n${text}`;
    case 6:
      return `${text}\n---\n${text}`;
    case 7:
      return `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    case 8:
      return text.slice(0, random.int(0, text.length));
    case 9:
      lines[at] = `${lines[at] ?? ''} *undefined_alias`;
      return lines.join('\n');
    case 10:
      return `${text}\n${'x: '.repeat(2000)}1\n`;
    default:
      return random.pick(['', '# only a comment\n', '42\n', '- a\n- b\n', 'null\n', '"sources"\n', '{}\n', '[]\n']);
  }
}
