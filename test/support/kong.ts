/** Generated Kong entries for tests, and how to find an entry's id in whatever arrived. */
import { KongTrafficGenerator, type KongEntry, type KongTrafficOptions } from '../../tools/kong-traffic.ts';

export function generate(count: number, options: Partial<KongTrafficOptions> = {}): KongEntry[] {
  const g = new KongTrafficGenerator({ seed: 1, ...options });
  return Array.from({ length: count }, () => g.next());
}

const ID = /"x-request-id":"([0-9a-f]{32})"/;

/** The generator's id of an entry text (it is in the x-request-id request header). */
export function idOf(text: string): string {
  const m = ID.exec(text);
  if (m === null) throw new Error(`no x-request-id in entry: ${text.slice(0, 120)}…`);
  return m[1];
}

/** Count how often each id occurs. */
export function tally(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of texts) {
    const id = idOf(t);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}
