import { defineConfigSection, envBoolean, envInt, envList } from '@gw/config';
import type { SectionOutput } from '@gw/config';
import { z } from 'zod';
import {
  asymmetricAlgorithms,
  hmacAlgorithms,
  inspectPublicKey,
  isHmacAlgorithm,
  isSupportedAlgorithm,
  normalizePem,
  supportedAlgorithms,
} from './algorithms.js';

/**
 * The HS256 secret used when no key is configured at all, so a fresh checkout runs without setup. Anyone can
 * mint tokens with it: the app refuses to start in production while `usesDefaultSecret(config)` is true.
 */
export const DEV_SECRET = 'dev-secret-change-me';

const algorithmListMessage =
  `expected a comma-separated list of JWS algorithms from ${supportedAlgorithms.join(', ')} ` +
  '("none" is never accepted)';

const algorithmList = () =>
  envList().transform((items, ctx) => {
    if (items.length === 0 || !items.every(isSupportedAlgorithm)) {
      ctx.addIssue({ code: 'custom', message: algorithmListMessage });
      return z.NEVER;
    }
    return [...new Set(items)];
  });

/** A comma-separated list with at least one item (audiences: a token must name one of them). */
const nonEmptyList = (what: string) =>
  envList().refine((items) => items.length > 0, { error: `expected one ${what} or a comma-separated list` });

const publicKeyField = () =>
  z.string().transform((raw, ctx) => {
    const pem = normalizePem(raw);
    try {
      inspectPublicKey(pem);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
    return pem;
  });

const jwksUrlField = () =>
  z
    .string()
    .trim()
    .transform((raw, ctx) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL of a JSON Web Key Set' });
        return z.NEVER;
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        ctx.addIssue({
          code: 'custom',
          message: `expected an http:// or https:// URL of a JSON Web Key Set, not ${url.protocol}`,
        });
        return z.NEVER;
      }
      return url.href;
    });

const schema = z
  .object({
    /** HS* shared secret (the legacy services' scheme). Unset with no other key → DEV_SECRET. */
    secret: z.string().min(1).optional(),
    /** SPKI PEM public key, normalised (literal `\n` expanded, trimmed) and checked to parse. */
    publicKey: publicKeyField().optional(),
    /** Remote JWKS URL (http or https), as a normalised href. */
    jwksUrl: jwksUrlField().optional(),
    /** Required `iss` value. One issuer: a token has exactly one, and so does `pnpm mint-token`. */
    issuer: z.string().trim().min(1, { error: 'expected the issuer (iss) tokens must carry' }).optional(),
    /** Accepted `aud` values (the token must name at least one). */
    audience: nonEmptyList('audience').optional(),
    /** Accepted `alg` values; unset → HS256 for a secret, the key's family for a PEM, every asymmetric one for a JWKS. */
    algorithms: algorithmList().optional(),
    /** Leeway for `exp` and `nbf`, seconds. */
    clockToleranceS: envInt(0, 300).default(5),
    /** Accept tokens without `exp` (they never expire); default false: such a token is refused (`missing_exp`). */
    allowNoExp: envBoolean().default(false),
    /** Bearer token of the admin routes; unset → admin routes answer only loopback clients (development). */
    adminToken: z.string().min(1).optional(),
    /** Successful verifications remembered per token (LRU, keyed by the token's SHA-256); 0 = no cache. */
    tokenCacheSize: envInt(0, 1_000_000).default(10_000),
    /** Longest a remembered verification is reused, seconds, even when the token's `exp` is later. */
    tokenCacheMaxAgeS: envInt(1, 86_400).default(300),
  })
  .superRefine((value, ctx) => {
    const sources = [value.secret, value.publicKey, value.jwksUrl].filter((s) => s !== undefined);
    // One key source only: mixing a shared secret with a public key is how algorithm-confusion bugs start, and
    // the precedence between two configured keys would be a guess.
    if (sources.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [value.publicKey === undefined ? 'jwksUrl' : 'publicKey'],
        message: 'set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL',
      });
      return;
    }
    const algorithms = value.algorithms;
    if (algorithms === undefined) {
      return;
    }
    if (value.publicKey !== undefined) {
      const info = inspectPublicKey(value.publicKey);
      const incompatible = algorithms.filter((a) => !(info.compatible as readonly string[]).includes(a));
      if (incompatible.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['algorithms'],
          message: `algorithms ${incompatible.join(', ')} cannot be verified with the ${info.description} key of JWT_PUBLIC_KEY; expected some of ${info.compatible.join(', ')}`,
        });
      }
    } else if (value.jwksUrl !== undefined) {
      const hmac = algorithms.filter(isHmacAlgorithm);
      if (hmac.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['algorithms'],
          message: `algorithms ${hmac.join(', ')} need a shared secret, not a JWKS; expected some of ${asymmetricAlgorithms.join(', ')}`,
        });
      }
    } else {
      const asymmetric = algorithms.filter((a) => !isHmacAlgorithm(a));
      if (asymmetric.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['algorithms'],
          message: `algorithms ${asymmetric.join(', ')} need JWT_PUBLIC_KEY or JWT_JWKS_URL; with JWT_SECRET expected some of ${hmacAlgorithms.join(', ')}`,
        });
      }
    }
  });

/**
 * Configuration section `auth`: how tokens are verified and how admin routes are protected. Exactly one key
 * source is used: `JWT_SECRET` (HS*), `JWT_PUBLIC_KEY` (SPKI PEM) or `JWT_JWKS_URL`; with none of them the
 * HS256 development secret {@link DEV_SECRET} applies. Setting two of them is a configuration error.
 */
export const authConfig = defineConfigSection({
  name: 'auth',
  schema,
  env: {
    JWT_SECRET: 'secret',
    JWT_PUBLIC_KEY: 'publicKey',
    JWT_JWKS_URL: 'jwksUrl',
    JWT_ISSUER: 'issuer',
    JWT_AUDIENCE: 'audience',
    JWT_ALGORITHMS: 'algorithms',
    JWT_CLOCK_TOLERANCE_S: 'clockToleranceS',
    JWT_ALLOW_NO_EXP: 'allowNoExp',
    ADMIN_TOKEN: 'adminToken',
    TOKEN_CACHE_SIZE: 'tokenCacheSize',
    TOKEN_CACHE_MAX_AGE_S: 'tokenCacheMaxAgeS',
  },
  secrets: ['secret', 'adminToken'],
  docs: {
    secret: `HS256 shared secret of the legacy services (default when no key is set: "${DEV_SECRET}", refused in production)`,
    publicKey: 'SPKI PEM public key (RSA, EC P-256/384/521 or Ed25519); literal \\n sequences are accepted',
    jwksUrl: 'URL of a JSON Web Key Set; cached, refreshed when a token names an unknown kid',
    issuer: 'required token issuer (iss); unset = not checked',
    audience: 'accepted token audience(s) (aud), comma-separated, any one suffices; unset = not checked',
    algorithms: 'accepted JWS algorithms, comma-separated; default HS256 for a secret, the key family for a PEM',
    clockToleranceS: 'clock skew allowed on exp/nbf, seconds (default 5)',
    allowNoExp: 'accept tokens without exp, which never expire (default false: refused with reason missing_exp)',
    adminToken: 'bearer token required by admin routes; unset = admin routes answer only loopback clients (refused in production)',
    tokenCacheSize:
      'successful token verifications remembered per process (LRU keyed by the token\'s SHA-256), so a client reconnecting with the same token skips the signature check; 0 = no cache',
    tokenCacheMaxAgeS:
      'longest a remembered verification is reused, seconds (an entry also ends at the token\'s exp): a token whose JWKS key was removed is still accepted for at most this long',
  },
});

/** The parsed `auth` section. */
export type AuthConfig = SectionOutput<typeof authConfig>;

/** Where verification keys come from, after applying the development default. */
export type KeySource =
  | { kind: 'secret'; secret: string; isDefault: boolean }
  | { kind: 'publicKey'; pem: string }
  | { kind: 'jwks'; url: string };

/** The effective key source of a configuration: the one configured, or the HS256 development secret. */
export function keySourceOf(config: AuthConfig): KeySource {
  if (config.publicKey !== undefined) {
    return { kind: 'publicKey', pem: config.publicKey };
  }
  if (config.jwksUrl !== undefined) {
    return { kind: 'jwks', url: config.jwksUrl };
  }
  const secret = config.secret ?? DEV_SECRET;
  return { kind: 'secret', secret, isDefault: secret === DEV_SECRET };
}

/**
 * True when tokens are verified with the public development secret (no key configured, or JWT_SECRET set to
 * it): anyone can mint tokens, so the app refuses this in production.
 */
export function usesDefaultSecret(config: AuthConfig): boolean {
  const source = keySourceOf(config);
  return source.kind === 'secret' && source.isDefault;
}

/**
 * The HS* secret tokens are verified with (the development default when nothing is configured), or undefined
 * when a public key or JWKS is configured: `pnpm mint-token` can only sign with a shared secret.
 */
export function signingSecretOf(config: AuthConfig): string | undefined {
  const source = keySourceOf(config);
  return source.kind === 'secret' ? source.secret : undefined;
}
