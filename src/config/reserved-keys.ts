/**
 * `__proto__` as a YAML key (a workspace, destination or header named so) would be dropped
 * without a word by the object records the schema builds: it is an error, located like any other.
 * (Names that come from entries, such as a workspace_name of "__proto__", are counted in Maps.)
 */
import type { ConfigPath, Diagnostic } from './diagnostics.ts';

const RESERVED = '__proto__';

export function checkReservedKeys(raw: unknown, at: ConfigPath = []): Diagnostic[] {
  if (raw === null || typeof raw !== 'object') return [];
  const out: Diagnostic[] = [];
  if (Array.isArray(raw)) {
    raw.forEach((v, i) => out.push(...checkReservedKeys(v, [...at, i])));
    return out;
  }
  for (const key of Object.keys(raw)) {
    const value = (raw as Record<string, unknown>)[key];
    if (key === RESERVED)
      out.push({
        severity: 'error',
        code: 'KLR_CONFIG_INVALID',
        path: [...at, key],
        atKey: true,
        message: `"${RESERVED}" cannot be used as a name: choose another`,
      });
    else out.push(...checkReservedKeys(value, [...at, key]));
  }
  return out;
}
