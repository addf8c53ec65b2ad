import { createPublicKey } from 'node:crypto';

/** HMAC algorithms: verified with the shared `JWT_SECRET`. */
export const hmacAlgorithms = ['HS256', 'HS384', 'HS512'] as const;

/** Public-key algorithms: verified with `JWT_PUBLIC_KEY` or a key of `JWT_JWKS_URL`. */
export const asymmetricAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  // RFC 9864's fully-specified name for EdDSA over Ed25519; same key, same signature.
  'Ed25519',
] as const;

/** Every JWS algorithm the gateway can be configured to accept. `none` is deliberately not one of them. */
export const supportedAlgorithms = [...hmacAlgorithms, ...asymmetricAlgorithms] as const;

export type JwtAlgorithm = (typeof supportedAlgorithms)[number];
export type HmacAlgorithm = (typeof hmacAlgorithms)[number];
export type AsymmetricAlgorithm = (typeof asymmetricAlgorithms)[number];

export function isSupportedAlgorithm(value: string): value is JwtAlgorithm {
  return (supportedAlgorithms as readonly string[]).includes(value);
}

export function isHmacAlgorithm(value: string): value is HmacAlgorithm {
  return (hmacAlgorithms as readonly string[]).includes(value);
}

/** What a PEM public key can verify: every compatible algorithm, and the default when JWT_ALGORITHMS is unset. */
export interface PublicKeyInfo {
  /** Human name of the key type, for error messages (`RSA 2048-bit`, `EC P-256`, `Ed25519`). */
  description: string;
  compatible: readonly AsymmetricAlgorithm[];
  /** The key's algorithm family: RSA → RS256, EC P-256 → ES256, P-384 → ES384, P-521 → ES512, Ed25519 → EdDSA. */
  defaults: readonly AsymmetricAlgorithm[];
}

const curves: Readonly<Record<string, { name: string; alg: AsymmetricAlgorithm }>> = {
  prime256v1: { name: 'P-256', alg: 'ES256' },
  secp384r1: { name: 'P-384', alg: 'ES384' },
  secp521r1: { name: 'P-521', alg: 'ES512' },
};

/**
 * Environment files often carry a PEM on one line with literal `\n` sequences, and sometimes with indentation
 * or a trailing newline; jose wants the PEM to start exactly with its `-----BEGIN` line.
 */
export function normalizePem(raw: string): string {
  return raw.replace(/\\n/g, '\n').trim();
}

/**
 * Parses an SPKI PEM public key and says which algorithms it can verify. Throws an Error whose message is
 * fit for a configuration error (it never quotes the key).
 */
export function inspectPublicKey(pem: string): PublicKeyInfo {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new Error('expected a public key, got a PRIVATE key: give the SPKI public key (-----BEGIN PUBLIC KEY-----)');
  }
  if (!pem.startsWith('-----BEGIN PUBLIC KEY-----')) {
    throw new Error('expected a PEM SPKI public key starting with -----BEGIN PUBLIC KEY-----');
  }
  let key;
  try {
    key = createPublicKey({ key: pem, format: 'pem', type: 'spki' });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`expected a PEM SPKI public key; it does not parse (${detail})`, { cause: error });
  }
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    // jose refuses RSA keys under 2048 bits at verification time; say so at startup instead.
    if (bits < 2048) {
      throw new Error(`RSA public key of ${bits} bits is too small; at least 2048 bits are required`);
    }
    return {
      description: `RSA ${bits}-bit`,
      compatible: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
      defaults: ['RS256'],
    };
  }
  if (type === 'ec') {
    const namedCurve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    const curve = curves[namedCurve];
    if (curve === undefined) {
      throw new Error(`EC public key on curve ${namedCurve} is not supported; use P-256, P-384 or P-521`);
    }
    return { description: `EC ${curve.name}`, compatible: [curve.alg], defaults: [curve.alg] };
  }
  if (type === 'ed25519') {
    return { description: 'Ed25519', compatible: ['EdDSA', 'Ed25519'], defaults: ['EdDSA', 'Ed25519'] };
  }
  // rsa-pss (PSS-restricted SPKI), ed448, dsa, x25519...: not verifiable by jose's JWS algorithms.
  throw new Error(
    `public key type ${type ?? 'unknown'} is not supported; use an RSA, EC (P-256/384/521) or Ed25519 key`,
  );
}
