import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Whether a request may use the admin routes. True when no `ADMIN_TOKEN` is configured (undefined or empty:
 * development); otherwise the `Authorization` header must be `Bearer <ADMIN_TOKEN>` (scheme in any case,
 * surrounding whitespace tolerated). The comparison is constant-time: both sides are hashed to 32 bytes first,
 * so neither the content nor the length of the token leaks through timing.
 */
export function checkAdminToken(authorizationHeader: string | undefined, adminToken: string | undefined): boolean {
  if (adminToken === undefined || adminToken === '') {
    return true;
  }
  if (authorizationHeader === undefined) {
    return false;
  }
  const match = /^bearer\s+(.+)$/is.exec(authorizationHeader.trim());
  const presented = match?.[1]?.trim();
  if (presented === undefined || presented === '') {
    return false;
  }
  return timingSafeEqual(digest(presented), digest(adminToken));
}
