/**
 * Is this webhook failure worth trying again? 2xx is delivered; 408, 429, 5xx and network
 * errors are retried (honoring Retry-After); any other status is final. Reasons carry the
 * status and a short sanitized snippet of the response, never request headers or secrets.
 */
import type { WebhookTarget } from './target.ts';

export interface RequestFailure {
  readonly retryable: boolean;
  readonly reason: string;
  readonly retryAfterMs?: number;
  /** A stable code (KLR_WEBHOOK_…). */
  readonly code: string;
}

const SNIPPET_CHARS = 200;
const CONTROL_CHARS = /[\u0000-\u001F\u007F]+/g;

/** undici / Node error codes that mean the request itself is malformed: trying again cannot help. */
const FINAL_ERROR_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'ERR_INVALID_URL',
  'ERR_INVALID_ARG_TYPE',
]);

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function statusFailure(
  target: WebhookTarget,
  status: number,
  retryAfter: string | string[] | undefined,
  body: string,
): RequestFailure {
  const retryable = isRetryableStatus(status);
  const snippet = sanitizeSnippet(target, body);
  const hint = status >= 300 && status < 400 ? ' (redirects are not followed: configure the final URL)' : '';
  const reason = `HTTP ${status} from ${target.display}${hint}${snippet === '' ? '' : `: ${snippet}`}`;
  const retryAfterMs = retryable ? parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) : undefined;
  return { retryable, reason, retryAfterMs, code: retryable ? 'KLR_WEBHOOK_UNAVAILABLE' : 'KLR_WEBHOOK_REJECTED' };
}

/** The request failed without a usable response: refused, reset, timed out, cancelled. */
export function errorFailure(
  target: WebhookTarget,
  e: unknown,
  context: { timedOut: boolean; timeoutMs: number; aborted: boolean },
): RequestFailure {
  if (context.timedOut)
    return {
      retryable: true,
      reason: `request to ${target.display} timed out after ${context.timeoutMs}ms`,
      code: 'KLR_WEBHOOK_TIMEOUT',
    };
  if (context.aborted)
    return {
      retryable: true,
      reason: `request to ${target.display} cancelled (shutdown)`,
      code: 'KLR_WEBHOOK_ABORTED',
    };
  const err = (e ?? {}) as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof err.code === 'string' ? err.code : typeof err.name === 'string' ? err.name : 'Error';
  const message = typeof err.message === 'string' ? err.message : String(e);
  const text = target.redact(message.includes(code) ? message : `${code}: ${message}`).replace(CONTROL_CHARS, ' ');
  const retryable = !FINAL_ERROR_CODES.has(code);
  return {
    retryable,
    reason: clip(`request to ${target.display} failed: ${text}`, 300),
    code: retryable ? 'KLR_WEBHOOK_NETWORK' : 'KLR_WEBHOOK_INVALID_REQUEST',
  };
}

/** Response text as it may appear in logs and dead letters: one line, secrets masked, 200 characters. */
export function sanitizeSnippet(target: WebhookTarget, body: string): string {
  const oneLine = body.replace(CONTROL_CHARS, ' ').replace(/\s+/g, ' ').trim();
  // Mask before cutting, so a cut cannot leave the start of a secret behind.
  return clip(target.redact(oneLine), SNIPPET_CHARS);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Parse a Retry-After header (seconds or HTTP date) into milliseconds; undefined when absent or bad. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
