import { GatewayError } from '@gw/core';
import { describe, expect, it } from 'vitest';
import { AuthError, authFailureReasons, isAuthError } from './reasons.js';

describe('AuthError', () => {
  it('carries its reason, code token_expired only for expired, and a human message', () => {
    const messages = Object.fromEntries(authFailureReasons.map((r) => [r, new AuthError(r).message]));
    expect(messages).toEqual({
      missing: 'unauthorized: no token',
      malformed: 'unauthorized: malformed token',
      bad_signature: 'unauthorized: bad token signature',
      expired: 'unauthorized: token expired',
      missing_exp: 'unauthorized: token has no expiry (exp)',
      not_yet_valid: 'unauthorized: token not yet valid',
      wrong_algorithm: 'unauthorized: token algorithm not accepted',
      missing_sub: 'unauthorized: token has no subject',
      invalid_claims: 'unauthorized: token issuer or audience not accepted',
    });
    for (const reason of authFailureReasons) {
      const error = new AuthError(reason);
      expect(error).toBeInstanceOf(GatewayError);
      expect(isAuthError(error)).toBe(true);
      expect(error.reason).toBe(reason);
      expect(error.code).toBe(reason === 'expired' ? 'token_expired' : 'unauthorized');
      expect(error.details).toEqual({ reason });
    }
  });

  it('keeps the cause and the failing claim', () => {
    const cause = new Error('jose said no');
    const error = new AuthError('invalid_claims', { cause, claim: 'aud' });
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ reason: 'invalid_claims', claim: 'aud' });
    expect(isAuthError(new GatewayError('unauthorized'))).toBe(false);
  });
});
