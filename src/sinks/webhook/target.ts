/**
 * The webhook URL split into what undici needs (origin, path with query, Basic credentials
 * from userinfo) and what may be shown: scheme://host:port/path only, because the query
 * string or the userinfo often carries a token.
 */

export class WebhookTarget {
  /** scheme://host:port, what the connection pool is for. */
  readonly origin: string;
  /** Path and query string, what each request asks for. */
  readonly requestPath: string;
  /** scheme://host:port/path: safe for logs, errors and dead-letter reasons. */
  readonly display: string;
  /** `Basic …` from the URL's userinfo, if any. */
  readonly basicAuthorization: string | undefined;
  readonly #secrets: readonly string[];

  constructor(url: string) {
    const u = new URL(url);
    this.origin = u.origin;
    this.requestPath = `${u.pathname}${u.search}`;
    const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
    this.display = `${u.protocol}//${u.hostname}:${port}${u.pathname}`;
    const user = safeDecode(u.username);
    const password = safeDecode(u.password);
    this.basicAuthorization =
      user !== '' || password !== ''
        ? `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
        : undefined;
    // Everything that may be secret, longest first so a value inside another is not left half-masked.
    const secrets = new Set<string>();
    for (const s of [u.search.slice(1), u.username, u.password, user, password]) if (s.length >= 3) secrets.add(s);
    for (const [name, value] of u.searchParams) {
      if (value.length >= 3) secrets.add(value);
      if (value.length >= 3) secrets.add(encodeURIComponent(value));
      if (name.length >= 3 && value === '') secrets.add(name);
    }
    this.#secrets = [...secrets].sort((a, b) => b.length - a.length);
  }

  /** Mask anything from the query string or userinfo in a text (an error message, a response body). */
  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
    return out;
  }
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
