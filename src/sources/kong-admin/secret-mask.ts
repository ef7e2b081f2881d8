/**
 * Secrets inside Kong entities, masked before an entity change leaves the relay (and before it is
 * written to the snapshot). The general redaction stage (src/shape/, `redact:`) may take this
 * list into its defaults; until then the kong_admin source applies it itself.
 */

export const REDACTED = '[REDACTED]';

/**
 * What is masked, at any depth of an entity (plugin `config` included):
 * - `fields`: exact field names: key-auth `key`, basic-auth `password`, jwt `secret`, oauth2
 *   `client_secret`, certificate `key` / `key_alt`, hmac-auth `secret`, and their kin;
 * - `nameParts`: any field whose name contains one of these (plugin configs: `redis.password`,
 *   `client_secret`, `api_key`, `session_secret`, `access_token`, `private_key`…).
 * Only string values are masked (and the strings of a list): `token_expiration: 7200` stays readable.
 */
export const KONG_ENTITY_SECRETS = {
  fields: ['key', 'key_alt', 'password', 'secret', 'client_secret', 'passphrase', 'credentials', 'authorization'],
  nameParts: ['password', 'secret', 'token', 'private_key', 'api_key', 'apikey', 'passphrase'],
} as const;

function isSecretName(name: string): boolean {
  const lower = name.toLowerCase();
  if ((KONG_ENTITY_SECRETS.fields as readonly string[]).includes(lower)) return true;
  return KONG_ENTITY_SECRETS.nameParts.some((part) => lower.includes(part));
}

/** A copy of `value` with every secret masked as "[REDACTED]". */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  // A null-prototype object: keys from the Admin API ("__proto__") stay plain data.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) out[k] = isSecretName(k) ? maskValue(v) : maskSecrets(v);
  return out;
}

function maskValue(v: unknown): unknown {
  if (typeof v === 'string') return REDACTED;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? REDACTED : maskSecrets(x)));
  if (v !== null && typeof v === 'object') return maskSecrets(v);
  return v;
}
