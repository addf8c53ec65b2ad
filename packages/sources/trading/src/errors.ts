import { loadedCcxt } from './ccxt.js';
import { InvalidExchangeData } from './mapping.js';

/**
 * How a failed exchange call is handled, by ccxt's error hierarchy:
 * - `auth`: the exchange rejected the credentials (AuthenticationError and its subclasses PermissionDenied,
 *   AccountSuspended...): the account is paused with a long backoff and the user is told;
 * - `rate_limit` (RateLimitExceeded, DDoSProtection: separate classes in ccxt 4.5) and `network` (every other
 *   NetworkError: timeouts,
 *   unavailable, bad gateway): retried after a short backoff, the last good value kept;
 * - `invalid_data`: the answer did not have the documented shape;
 * - `internal`: any other exchange error (BadRequest, ...) or a bug: also retried after a backoff.
 * These are also the `kind` labels of the source-error metric.
 */
export type FailureKind = 'auth' | 'rate_limit' | 'network' | 'invalid_data' | 'internal';

export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof InvalidExchangeData) {
    return 'invalid_data';
  }
  const ccxt = loadedCcxt();
  if (ccxt === undefined) {
    return 'internal';
  }
  if (error instanceof ccxt.AuthenticationError) {
    return 'auth';
  }
  if (error instanceof ccxt.RateLimitExceeded || error instanceof ccxt.DDoSProtection) {
    return 'rate_limit';
  }
  if (error instanceof ccxt.NetworkError) {
    return 'network';
  }
  return 'internal';
}
