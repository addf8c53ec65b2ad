import { createHmac } from 'node:crypto';
import { loadConfig } from '@gw/config';
import { expect } from 'vitest';
import { authConfig } from '../config.js';
import type { AuthConfig } from '../config.js';
import { AuthError } from '../reasons.js';
import type { AuthFailureReason } from '../reasons.js';

/** Test helpers: tokens built by hand (no jose), so malformed and unsigned tokens are possible. */

export const nowS = (): number => Math.floor(Date.now() / 1000);

export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** An HS* token built the way PyJWT does it, independent of jose. */
export function hmacToken(
  claims: Record<string, unknown>,
  secret: string | Buffer,
  header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
): string {
  const alg = typeof header['alg'] === 'string' ? header['alg'] : 'HS256';
  const input = `${b64url(header)}.${b64url(claims)}`;
  const signature = createHmac(`sha${alg.slice(2)}`, secret).update(input).digest('base64url');
  return `${input}.${signature}`;
}

/** The `auth` section as the app would parse it from these environment variables. */
export function configFrom(env: Record<string, string>): AuthConfig {
  return loadConfig(env, { auth: authConfig }).auth;
}

/** Awaits a verification expected to fail and returns the AuthError's reason (fails the test otherwise). */
export async function reasonOf(promise: Promise<unknown>): Promise<AuthFailureReason> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  return (error as AuthError).reason;
}
