import { GatewayError } from '@gw/core';
import { SignJWT } from 'jose';

export interface MintDevTokenOptions {
  /** The HS256 secret (JWT_SECRET, or the development default). */
  secret: string;
  /** The user id; numbers are written as strings, as the legacy services did (`"sub": "4"`). */
  sub: string | number;
  /** Lifetime: a jose time span (`'7d'`, `'2h'`, `'30 minutes'`) or a number of seconds. Default `'7d'`. */
  expiresIn?: string | number;
  /** `iss` to write (set it to JWT_ISSUER when that is configured). */
  issuer?: string;
  /** `aud` to write (JWT_AUDIENCE; a list is written as an array, which any one configured value matches). */
  audience?: string | readonly string[];
}

/**
 * Signs a development token with HS256: `{ sub, iat, exp[, iss][, aud] }`, `sub` always a string, `exp`
 * `expiresIn` after now (default 7 days). What `pnpm mint-token --sub 4` prints. Rejects with a GatewayError
 * (`bad_request`) for an empty secret or subject or an unreadable `expiresIn`.
 */
export async function mintDevToken(options: MintDevTokenOptions): Promise<string> {
  const { secret, expiresIn = '7d', issuer, audience } = options;
  const sub = String(options.sub).trim();
  if (secret === '') {
    throw new GatewayError('bad_request', { message: 'mintDevToken: the secret is empty' });
  }
  if (sub === '') {
    throw new GatewayError('bad_request', { message: 'mintDevToken: the subject (sub) is empty' });
  }
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(now);
  try {
    // jose reads a string span relative to now; a number would be an absolute date, so convert seconds here.
    jwt = jwt.setExpirationTime(typeof expiresIn === 'number' ? now + expiresIn : expiresIn);
  } catch (error) {
    throw new GatewayError('bad_request', {
      message: `mintDevToken: cannot read expiresIn ${JSON.stringify(expiresIn)} (expected e.g. 7d, 12h, 30m or seconds)`,
      cause: error,
    });
  }
  if (issuer !== undefined) {
    jwt = jwt.setIssuer(issuer);
  }
  if (audience !== undefined) {
    jwt = jwt.setAudience(typeof audience === 'string' ? audience : [...audience]);
  }
  return jwt.sign(new TextEncoder().encode(secret));
}
