import { GatewayError } from '@gw/core';
import { createRemoteJWKSet, errors, importSPKI, jwtVerify } from 'jose';
import type { CryptoKey, JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { asymmetricAlgorithms, inspectPublicKey, isHmacAlgorithm } from './algorithms.js';
import type { JwtAlgorithm } from './algorithms.js';
import { keySourceOf } from './config.js';
import type { AuthConfig, KeySource } from './config.js';
import { AuthError } from './reasons.js';
import { TokenCache } from './token-cache.js';

/** The authenticated caller, as the rest of the gateway sees it. */
export interface Principal {
  /**
   * The user id: `sub` as a JSON number when it is a canonical decimal integer within the safe range ("4" → 4,
   * as the legacy service's `int(user_id)` did), otherwise `sub` itself. "04" or "1e3" stay strings, so two
   * different subjects never collapse onto one number.
   */
  userId: number | string;
  /** The `sub` claim, always as a string. */
  sub: string;
  /** `exp` in milliseconds since the epoch, or undefined for a token without `exp`. */
  expiresAt: number | undefined;
  /** Every verified claim, for callers that need more than the subject. */
  claims: JWTPayload;
}

export interface TokenVerifier {
  /**
   * Verifies a compact JWT and returns its principal. Rejects with {@link AuthError} for every problem of the
   * token itself (see its `reason`). Rejects with a GatewayError of code `internal` only when the gateway
   * cannot obtain a key (JWKS unreachable, timing out, or serving garbage): that is not the client's fault and
   * must not be reported to it as a bad token.
   */
  verify(token: string): Promise<Principal>;
}

/**
 * What `createVerifier` returns: a TokenVerifier that also says what it accepts, for the startup log.
 * Consumers should depend on TokenVerifier (easy to fake in tests), not on this.
 */
export interface JwtVerifier extends TokenVerifier {
  /** The algorithms accepted (after defaults). */
  readonly algorithms: readonly JwtAlgorithm[];
  /** Which key source is in use. */
  readonly keySource: KeySource['kind'];
}

/** Tuning of the remote JWKS (ignored for a secret or a PEM key). Defaults are jose's. */
export interface VerifierOptions {
  /** Abort a JWKS request after this many ms (default 5000): a dead IdP must not hang handshakes. */
  jwksTimeoutMs?: number;
  /**
   * After a fetch, a token naming an unknown `kid` triggers a refetch only once this many ms have passed
   * (default 30000), so a flood of random kids cannot turn into a flood of requests to the IdP.
   */
  jwksCooldownMs?: number;
  /** Refetch the JWKS when the cached copy is older than this (default 600000). */
  jwksCacheMaxAgeMs?: number;
  /** The clock of the verification cache, ms since the epoch (default Date.now; jose reads Date.now itself). */
  now?: () => number;
}

/**
 * Longest token we parse. Legacy tokens are ~150 bytes and IdP tokens a few KB; anything far larger is not a
 * credential, and refusing it before base64/JSON decoding keeps a hostile handshake cheap.
 */
const maxTokenLength = 16_384;

const defaultJwksTimeoutMs = 5000;

const canonicalInteger = /^-?(?:0|[1-9]\d*)$/;

function userIdOf(sub: string): number | string {
  if (!canonicalInteger.test(sub)) {
    return sub;
  }
  const n = Number(sub);
  return Number.isSafeInteger(n) ? n : sub;
}

/** `sub` as a string; legacy issuers sometimes wrote it as a JSON number, which is tolerated when it is an integer. */
function subjectOf(payload: JWTPayload): string | undefined {
  const sub: unknown = payload.sub;
  if (typeof sub === 'string') {
    return sub.length > 0 ? sub : undefined;
  }
  if (typeof sub === 'number' && Number.isSafeInteger(sub)) {
    return String(sub);
  }
  return undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  // undici reports "fetch failed" and hides the useful part (ECONNREFUSED, ENOTFOUND, ...) in `cause`.
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${error.message} (${code === undefined ? cause.message : `${code}: ${cause.message}`})`;
  }
  return error.message;
}

function configError(message: string, cause?: unknown): GatewayError {
  return new GatewayError('config_invalid', { message, cause });
}

/** Maps an error thrown by jose (or by the key resolver) to an AuthError, or to an infrastructure GatewayError. */
function toVerificationError(error: unknown, source: KeySource, options: VerifierOptions): GatewayError {
  if (error instanceof errors.JOSEError) {
    switch (error.code) {
      case 'ERR_JWT_EXPIRED':
        return new AuthError('expired', { cause: error, claim: 'exp' });
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
        const { claim, reason } =
          error instanceof errors.JWTClaimValidationFailed ? error : { claim: 'unspecified', reason: 'unspecified' };
        // A time claim that is not a number is a broken token, not a timing problem.
        if (reason === 'invalid') {
          return new AuthError('malformed', { cause: error, claim });
        }
        // `iat` is only checked with maxTokenAge (unused), where a failure means "issued in the future".
        if (claim === 'nbf' || claim === 'iat') {
          return new AuthError('not_yet_valid', { cause: error, claim });
        }
        // `iss` or `aud` missing or not one of the configured values.
        return new AuthError('invalid_claims', { cause: error, claim });
      }
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      case 'ERR_JWKS_NO_MATCHING_KEY':
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
        // No key we trust verifies this token: for the client it is the same as a forged signature.
        return new AuthError('bad_signature', { cause: error });
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
        return new AuthError('wrong_algorithm', { cause: error });
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
      case 'ERR_JWE_INVALID':
      case 'ERR_JWE_DECRYPTION_FAILED':
      case 'ERR_JOSE_NOT_SUPPORTED':
        // NOT_SUPPORTED: an unknown `crit` header extension (algorithms are filtered before): the token asks
        // for processing we do not do.
        return new AuthError('malformed', { cause: error });
      case 'ERR_JWKS_TIMEOUT':
      case 'ERR_JWKS_INVALID':
      case 'ERR_JWK_INVALID':
      case 'ERR_JOSE_GENERIC':
      default:
        break;
    }
  }
  if (source.kind === 'jwks') {
    const detail =
      error instanceof errors.JWKSTimeout
        ? `no answer within ${options.jwksTimeoutMs ?? defaultJwksTimeoutMs} ms`
        : describe(error);
    return new GatewayError('internal', {
      message: `could not get a verification key from the JWKS at ${source.url}: ${detail}`,
      cause: error,
    });
  }
  return new GatewayError('internal', { message: `token verification failed: ${describe(error)}`, cause: error });
}

interface KeyResolver {
  algorithms: readonly JwtAlgorithm[];
  key: JWTVerifyGetKey;
}

/** Resolver over keys imported once at startup, one per accepted algorithm (a CryptoKey is bound to its alg). */
function fromKeyMap(keys: ReadonlyMap<string, CryptoKey>): JWTVerifyGetKey {
  return (header) => {
    // jose checks `alg` against `algorithms` before calling us, so a miss here is a programming error.
    const key = keys.get(header.alg);
    if (key === undefined) {
      throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
    }
    return key;
  };
}

async function secretResolver(config: AuthConfig, secret: string): Promise<KeyResolver> {
  const algorithms = config.algorithms ?? ['HS256'];
  const wrong = algorithms.filter((a) => !isHmacAlgorithm(a));
  if (wrong.length > 0) {
    throw configError(`JWT_ALGORITHMS: ${wrong.join(', ')} cannot be verified with JWT_SECRET; use HS256, HS384 or HS512`);
  }
  // Imported once: jose would otherwise re-import a raw Uint8Array secret on every verification.
  const bytes = new TextEncoder().encode(secret);
  const keys = new Map<string, CryptoKey>();
  for (const alg of algorithms) {
    const hash = `SHA-${alg.slice(2)}`;
    keys.set(alg, await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash }, false, ['verify']));
  }
  return { algorithms, key: fromKeyMap(keys) };
}

async function publicKeyResolver(config: AuthConfig, pem: string): Promise<KeyResolver> {
  let info;
  try {
    info = inspectPublicKey(pem);
  } catch (error) {
    throw configError(`JWT_PUBLIC_KEY: ${describe(error)}`, error);
  }
  const algorithms = config.algorithms ?? info.defaults;
  const wrong = algorithms.filter((a) => !(info.compatible as readonly string[]).includes(a));
  if (wrong.length > 0) {
    // Refusing HS* here is what closes the classic algorithm-confusion hole (an HMAC keyed with the PEM text).
    throw configError(
      `JWT_ALGORITHMS: ${wrong.join(', ')} cannot be verified with the ${info.description} key of JWT_PUBLIC_KEY; use ${info.compatible.join(', ')}`,
    );
  }
  const keys = new Map<string, CryptoKey>();
  for (const alg of algorithms) {
    try {
      keys.set(alg, await importSPKI(pem, alg));
    } catch (error) {
      throw configError(`JWT_PUBLIC_KEY: cannot be imported for ${alg}: ${describe(error)}`, error);
    }
  }
  return { algorithms, key: fromKeyMap(keys) };
}

function jwksResolver(config: AuthConfig, url: string, options: VerifierOptions): KeyResolver {
  const algorithms = config.algorithms ?? asymmetricAlgorithms;
  const wrong = algorithms.filter(isHmacAlgorithm);
  if (wrong.length > 0) {
    throw configError(`JWT_ALGORITHMS: ${wrong.join(', ')} need a shared secret and cannot be used with JWT_JWKS_URL`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw configError(`JWT_JWKS_URL: not a URL`, error);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw configError(`JWT_JWKS_URL: expected an http:// or https:// URL, not ${parsed.protocol}`);
  }
  const remote = createRemoteJWKSet(parsed, {
    timeoutDuration: options.jwksTimeoutMs ?? defaultJwksTimeoutMs,
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
  });
  // Warm the cache so the first handshake does not pay for the fetch. Not awaited and not fatal: an IdP that
  // is briefly down must not stop the gateway from starting; verifications retry the fetch and report it.
  remote.reload().catch(() => undefined);
  return { algorithms, key: remote };
}

/**
 * Builds the verifier for a configuration. Keys are imported here, once: a bad PEM or an algorithm list that
 * does not fit the key fails startup with a `config_invalid` GatewayError naming the variable. A JWKS is
 * fetched in the background and cached (refetched after `jwksCacheMaxAgeMs`, and when a token names an
 * unknown `kid` once `jwksCooldownMs` has passed since the last fetch).
 *
 * Accepted algorithms: `config.algorithms`, or by default HS256 for a secret, the key's family for a PEM
 * (RSA → RS256, EC P-256 → ES256, Ed25519 → EdDSA), every asymmetric algorithm for a JWKS. `none` is never
 * accepted. `exp` and `nbf` are checked with `config.clockToleranceS` of leeway; `iss` and `aud` when
 * configured.
 *
 * Successful verifications are remembered (`config.tokenCacheSize` entries, LRU, keyed by the token's SHA-256,
 * never the token): the same token presented again returns the same frozen Principal without a signature
 * check until the token's `exp` or for at most `config.tokenCacheMaxAgeS`, whichever comes first. The one
 * trade-off: a token whose JWKS key has been removed (or whose secret/key was replaced by a restart-free
 * reload, which this gateway does not do) is still accepted for up to that maximum age if it was verified
 * before; connections already open are unaffected by key removal anyway. Refusals are never remembered.
 */
export async function createVerifier(config: AuthConfig, options: VerifierOptions = {}): Promise<JwtVerifier> {
  const source = keySourceOf(config);
  let resolver: KeyResolver;
  switch (source.kind) {
    case 'secret':
      resolver = await secretResolver(config, source.secret);
      break;
    case 'publicKey':
      resolver = await publicKeyResolver(config, source.pem);
      break;
    case 'jwks':
      resolver = jwksResolver(config, source.url, options);
      break;
  }
  const { algorithms, key } = resolver;
  const verifyOptions: JWTVerifyOptions = {
    algorithms: [...algorithms],
    clockTolerance: config.clockToleranceS,
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(config.audience === undefined ? {} : { audience: config.audience }),
  };

  async function verifiedPayload(token: string): Promise<JWTPayload> {
    try {
      return (await jwtVerify(token, key, verifyOptions)).payload;
    } catch (error) {
      if (!(error instanceof errors.JWKSMultipleMatchingKeys)) {
        throw error;
      }
      // Several JWKS keys fit a token without `kid`: try each, as jose's documentation prescribes.
      for await (const candidate of error) {
        try {
          return (await jwtVerify(token, candidate, verifyOptions)).payload;
        } catch (attempt) {
          if (!(attempt instanceof errors.JWSSignatureVerificationFailed)) {
            throw attempt;
          }
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    }
  }

  // A client reconnecting (after a node died, a proxy restarted, a refused attempt) presents the token it had:
  // remembering successful verifications spares the signature check. Only successes are kept: refusals are
  // verified each time, so a flood of bad tokens cannot push good entries out, and a token refused because its
  // key had not been fetched yet is accepted as soon as the key arrives.
  const now = options.now ?? Date.now;
  const cache = new TokenCache<Principal>({ maxEntries: config.tokenCacheSize, now });
  const cacheMaxAgeMs = config.tokenCacheMaxAgeS * 1000;

  async function verifyUncached(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      payload = await verifiedPayload(token);
    } catch (error) {
      throw toVerificationError(error, source, options);
    }
    const sub = subjectOf(payload);
    if (sub === undefined) {
      throw new AuthError('missing_sub', { claim: 'sub' });
    }
    if (typeof payload.exp !== 'number' && !config.allowNoExp) {
      // A token that never expires cannot be revoked by time: refused unless the deployment opts in.
      throw new AuthError('missing_exp', { claim: 'exp' });
    }
    // Frozen: one cached principal is handed to every connection presenting the token.
    return Object.freeze({
      userId: userIdOf(sub),
      sub,
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
      claims: Object.freeze(payload),
    });
  }

  return {
    algorithms,
    keySource: source.kind,
    async verify(token: string): Promise<Principal> {
      const trimmed = typeof token === 'string' ? token.trim() : '';
      if (trimmed.length === 0) {
        throw new AuthError('missing');
      }
      if (trimmed.length > maxTokenLength) {
        throw new AuthError('malformed');
      }
      const cached = cache.get(trimmed);
      if (cached !== undefined) {
        return cached;
      }
      const principal = await verifyUncached(trimmed);
      // Ends at `exp` (the clock tolerance is jose's to grant, on a fresh verification) and within the maximum
      // age, which bounds how long a token stays accepted after its JWKS key was removed.
      cache.set(trimmed, principal, Math.min(principal.expiresAt ?? Infinity, now() + cacheMaxAgeMs));
      return principal;
    },
  };
}
