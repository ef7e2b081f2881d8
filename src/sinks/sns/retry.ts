/** Is this SNS failure worth trying again? For a whole PublishBatch call, and for one entry of it. */
import type { BatchResultErrorEntry } from '@aws-sdk/client-sns';
import { SinkError } from '../sink.ts';

/**
 * Error codes that say "not now" rather than "never", whoever SNS blames. Everything else
 * the service blames on the sender (NotFound, AuthorizationError, InvalidParameter,
 * InvalidClientTokenId, KMSAccessDenied, …) will fail the same way again.
 */
const RETRYABLE_CODES = new Set([
  'Throttled',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'KMSThrottling',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  // Credentials from the default chain are refreshed; a skewed clock may be corrected.
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'IDPCommunicationError',
]);

const MAX_REASON_CHARS = 200;

/** One entry SNS listed in `Failed`. */
export function entryFailure(failed: BatchResultErrorEntry): { retryable: boolean; reason: string } {
  const code = failed.Code ?? 'Unknown';
  const retryable = failed.SenderFault !== true || isRetryableCode(code);
  return { retryable, reason: clip(`SNS rejected the entry: ${code}${failed.Message ? `: ${failed.Message}` : ''}`) };
}

/** The whole PublishBatch call failed: service error, network error, timeout or shutdown. */
export function callError(e: unknown, context: { timedOut: boolean; timeoutMs: number; aborted: boolean }): SinkError {
  if (context.timedOut)
    return new SinkError(`SNS PublishBatch timed out after ${context.timeoutMs}ms`, {
      retryable: true,
      code: 'KLR_SNS_TIMEOUT',
      cause: e,
    });
  if (context.aborted)
    return new SinkError('SNS PublishBatch cancelled (shutdown)', {
      retryable: true,
      code: 'KLR_SNS_ABORTED',
      cause: e,
    });
  const err = (e ?? {}) as ServiceErrorShape;
  const status = err.$metadata?.httpStatusCode;
  const code = serviceCode(err);
  const message = typeof err.message === 'string' ? err.message : String(e);
  if (status === undefined) {
    // No response at all: connection refused or reset, DNS, TLS, or no credentials yet (the
    // instance metadata service may be briefly unreachable). All may heal.
    const name = err.code ?? err.name ?? 'Error';
    return new SinkError(
      clip(`SNS PublishBatch failed before a response: ${message.includes(name) ? message : `${name}: ${message}`}`),
      { retryable: true, code: 'KLR_SNS_NETWORK', cause: e },
    );
  }
  const retryable = status >= 500 || status === 429 || isRetryableCode(code);
  // A proxy or load balancer answering instead of SNS gives no AWS error code.
  const detail =
    code === 'Unknown' ? `HTTP ${status} without an AWS error code` : `${code}: ${message} (HTTP ${status})`;
  return new SinkError(clip(`SNS PublishBatch failed: ${detail}`), {
    retryable,
    code: retryable ? 'KLR_SNS_UNAVAILABLE' : 'KLR_SNS_REJECTED',
    cause: e,
  });
}

interface ServiceErrorShape {
  readonly name?: string;
  readonly message?: unknown;
  /** Node system errors: ECONNREFUSED, ECONNRESET, … */
  readonly code?: string;
  /** The AWS error code of query-protocol errors: "NotFound", "Throttled", … */
  readonly Code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

function serviceCode(err: ServiceErrorShape): string {
  if (typeof err.Code === 'string' && err.Code !== '') return err.Code;
  const name = err.name ?? 'Unknown';
  return name.endsWith('Exception') && name !== 'Exception' ? name.slice(0, -'Exception'.length) : name;
}

function isRetryableCode(code: string): boolean {
  return RETRYABLE_CODES.has(code) || RETRYABLE_CODES.has(`${code}Exception`);
}

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}
