import type { AuthFailureReason, Principal } from '@gw/auth';
import type { UserSlot } from '@gw/node-services';
import type { SweptConnection } from './sweep.js';

/**
 * Why an in-band token refresh was refused: a reason of the token itself (@gw/auth's, e.g. `bad_signature`,
 * `expired`), or one of the refresh's own. A refused refresh changes nothing: the connection keeps its token,
 * its user and its expiry.
 */
export type RefreshFailureReason =
  | AuthFailureReason
  /** The new token names another user (`sub`): a connection never changes hands. */
  | 'different_sub'
  /** A connection without a user (stock, auth not required) became that user, who is at MAX_CONNECTIONS_PER_USER. */
  | 'connection_limit'
  /** The keys could not be fetched (JWKS down) or the bus holding user slots is down: try again. */
  | 'auth_unavailable';

const refreshFailureMessages: Readonly<Record<RefreshFailureReason, string>> = {
  missing: 'no token: send {"type": "refresh_token", "token": "<JWT>"}',
  malformed: 'the new token is malformed',
  bad_signature: 'the new token has a bad signature',
  expired: 'the new token has expired',
  missing_exp: 'the new token has no expiry (exp)',
  not_yet_valid: 'the new token is not valid yet (nbf)',
  wrong_algorithm: 'the new token\'s algorithm is not accepted',
  missing_sub: 'the new token has no subject (sub)',
  invalid_claims: 'the new token\'s issuer or audience is not accepted',
  different_sub: 'the new token names another user (sub): a connection keeps its user',
  connection_limit: 'this user already has the maximum number of open connections',
  auth_unavailable: 'token verification is unavailable right now: try again',
};

/** The sentence sent to the client for a refused refresh: `<reason>: <why>; the current token stays in force`. */
export function refreshFailureDetails(reason: RefreshFailureReason): string {
  return `${reason}: ${refreshFailureMessages[reason]}; the current token stays in force`;
}

/** A refresh the gate accepted: the new principal (same `sub`), and a slot when the connection had no user. */
export interface RefreshAccepted {
  principal: Principal;
  /** Taken when a connection without a user became authenticated; the connection releases it at close. */
  slot?: UserSlot;
}

export interface RefreshRefused {
  refused: RefreshFailureReason;
}

export type RefreshOutcome = RefreshAccepted | RefreshRefused;

export function isRefreshRefused(outcome: RefreshOutcome): outcome is RefreshRefused {
  return 'refused' in outcome;
}

/** `exp` in unix seconds for the wire (`expires_at`), or null for a token without `exp` (JWT_ALLOW_NO_EXP). */
export function expiresAtSeconds(principal: Principal): number | null {
  return principal.expiresAt === undefined ? null : Math.floor(principal.expiresAt / 1000);
}

/**
 * Applies an accepted refresh's expiry to a swept connection. A new `token_expiring` notice is armed only when
 * the expiry moved later: a client whose hook hands back the same token would otherwise be told again at
 * once, and answer again, at the sweep's pace.
 */
export function noteRefreshedExpiry(connection: SweptConnection, expiresAt: number | undefined): void {
  const previous = connection.expiresAt;
  connection.expiresAt = expiresAt;
  if (expiresAt === undefined || previous === undefined || expiresAt > previous) {
    connection.expiringNoticeSent = false;
  }
}

/** Longest refresh frame looked at: a JWT is at most 16 KiB (the verifier's bound) plus the envelope. */
const maxRefreshFrameChars = 17_000;

/**
 * Reads `{"type": "refresh_token", "token": "<string>"}` from a raw WebSocket text frame, or undefined when the
 * frame is anything else, which then goes to the protocol exactly as before (signals: `unknown_command`). A
 * cheap test first, so no other frame is parsed here: it must start with `{` and mention `refresh_token`.
 */
export function readRefreshFrame(text: string): { token: string } | undefined {
  if (text.length > maxRefreshFrameChars || !text.includes('refresh_token') || text.trimStart()[0] !== '{') {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) {
    return undefined;
  }
  const { type, token } = parsed as { type?: unknown; token?: unknown };
  return type === 'refresh_token' && typeof token === 'string' ? { token } : undefined;
}
