import { GatewayClientError } from './errors.js';

/**
 * Returns the token for the next connection attempt. Called before every connect and reconnect, so a token
 * that expired (close 4401 `token_expired`, a `connect_error` "token expired", an HTTP 401 at the upgrade) is
 * replaced by whatever this returns next: refresh it here.
 */
export type TokenProvider = () => string | Promise<string>;

/** Calls the hook; a throw or a value that is not a non-empty string becomes a `token` error. */
export async function readToken(getToken: TokenProvider): Promise<string> {
  let token: unknown;
  try {
    token = await getToken();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new GatewayClientError('token', 'token_failed', `getToken failed: ${why}`, { cause: error });
  }
  if (typeof token !== 'string' || token.length === 0) {
    throw new GatewayClientError('token', 'invalid_token', 'getToken must return a non-empty string');
  }
  return token;
}
