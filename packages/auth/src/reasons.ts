import { GatewayError } from '@gw/core';

/**
 * Every way a token can be refused, in the order a verifier meets them. The list is closed on purpose: adapters
 * and metrics label rejections with it, so a new reason is a visible change, not a free-form string.
 */
export const authFailureReasons = [
  /** No token in any of the accepted places (or an empty one). */
  'missing',
  /** Not a compact JWS JWT: wrong segment count, bad base64url, header or claims not a JSON object, bad claim types. */
  'malformed',
  /** The signature does not verify with the configured key (or no key of the JWKS matches the token). */
  'bad_signature',
  /** `exp` has passed (beyond the clock tolerance). */
  'expired',
  /** No `exp`: a token that never expires is refused unless `JWT_ALLOW_NO_EXP` is set. */
  'missing_exp',
  /** `nbf` is in the future (beyond the clock tolerance). */
  'not_yet_valid',
  /** `alg` is not one of the accepted algorithms; includes `none` and HMAC-with-a-public-key confusion. */
  'wrong_algorithm',
  /** Signature fine but no usable `sub` (user id). */
  'missing_sub',
  /** Issuer or audience missing or not the configured one. */
  'invalid_claims',
] as const;

/** Why a token was refused. `invalid_claims` means an issuer or audience mismatch. */
export type AuthFailureReason = (typeof authFailureReasons)[number];

const reasonMessages: Readonly<Record<AuthFailureReason, string>> = {
  missing: 'unauthorized: no token',
  malformed: 'unauthorized: malformed token',
  bad_signature: 'unauthorized: bad token signature',
  expired: 'unauthorized: token expired',
  missing_exp: 'unauthorized: token has no expiry (exp)',
  not_yet_valid: 'unauthorized: token not yet valid',
  wrong_algorithm: 'unauthorized: token algorithm not accepted',
  missing_sub: 'unauthorized: token has no subject',
  invalid_claims: 'unauthorized: token issuer or audience not accepted',
};

export interface AuthErrorOptions {
  /** The underlying jose error, for logs. Never sent to clients by the adapters. */
  cause?: unknown;
  /** The claim that failed (`iss`, `aud`, `nbf`, ...) when known; exposed in `details.claim`. */
  claim?: string;
}

/**
 * A refused token. `code` is `token_expired` for an expired token (clients refresh and retry) and
 * `unauthorized` for every other reason (clients must re-authenticate); `reason` is the precise cause and is
 * also copied to `details.reason` so adapters that only forward `details` still carry it. The message is a
 * fixed human sentence per reason (e.g. `unauthorized: token expired`): it never contains the token.
 */
export class AuthError extends GatewayError {
  readonly reason: AuthFailureReason;

  constructor(reason: AuthFailureReason, options: AuthErrorOptions = {}) {
    super(reason === 'expired' ? 'token_expired' : 'unauthorized', {
      message: reasonMessages[reason],
      cause: options.cause,
      details: options.claim === undefined ? { reason } : { reason, claim: options.claim },
    });
    this.reason = reason;
  }
}

/** True for an AuthError (a refused token), as opposed to an infrastructure failure while verifying. */
export function isAuthError(error: unknown): error is AuthError {
  return error instanceof AuthError;
}
