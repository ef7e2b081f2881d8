/**
 * Does the AWS SDK's default credential chain (environment, shared config and credentials files,
 * SSO, web identity, container and instance roles) give credentials for an SNS destination?
 * Asked at start, by `validate` and for /readyz, so that missing credentials are said at once
 * instead of as a CredentialsProviderError on every batch for max_elapsed.
 */
import type { ResolvedDestination, SnsDestination } from '../../config/resolve.ts';
import { errorText } from '../../util/errors.ts';

/** How long the chain may take (an instance-metadata lookup off EC2 can hang) before we call it a failure. */
export const CREDENTIALS_TIMEOUT_MS = 5_000;

/** null when credentials resolve; else why not, said for an operator. */
export async function snsCredentialsProblem(
  destination: SnsDestination,
  timeoutMs = CREDENTIALS_TIMEOUT_MS,
): Promise<string | null> {
  const { SNSClient } = await import('@aws-sdk/client-sns');
  // The same client options as the publisher, so the same chain is asked (a profile's region, etc.).
  const client = new SNSClient({ region: destination.region, endpoint: destination.endpoint, maxAttempts: 1 });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    const credentials = await Promise.race([client.config.credentials(), timeout]);
    return credentials.accessKeyId ? null : missing(destination, 'the chain gave an empty access key id');
  } catch (e) {
    return missing(destination, errorText(e).split('\n')[0]);
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}

function missing(destination: SnsDestination, why: string): string {
  return `no AWS credentials for SNS destination ${destination.name} (${why}): every publish will fail until there are; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (dummy values for an emulator), AWS_PROFILE, or give the host or task a role`;
}

/** The problem of each SNS destination without credentials (asked all at once). */
export async function snsCredentialProblems(destinations: readonly ResolvedDestination[]): Promise<string[]> {
  const sns = destinations.filter((d): d is SnsDestination => d.type === 'sns');
  const problems = await Promise.all(sns.map((d) => snsCredentialsProblem(d)));
  return problems.filter((p): p is string => p !== null);
}
