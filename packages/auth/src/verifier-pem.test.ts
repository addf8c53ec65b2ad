import { generateKeyPairSync } from 'node:crypto';
import { ConfigError } from '@gw/config';
import { GatewayError } from '@gw/core';
import { SignJWT, exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import type { CryptoKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { hmacToken, configFrom, nowS, reasonOf } from './testing/tokens.js';
import { createVerifier } from './verifier.js';

interface Pair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  pem: string;
}

async function pair(alg: string, options: { crv?: string } = {}): Promise<Pair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...options });
  return { publicKey, privateKey, pem: await exportSPKI(publicKey) };
}

const sign = (privateKey: CryptoKey, alg: string, sub = '4') =>
  new SignJWT({}).setProtectedHeader({ alg, typ: 'JWT' }).setSubject(sub).setIssuedAt().setExpirationTime('5m').sign(privateKey);

const cases = [
  { alg: 'RS256', defaults: ['RS256'] },
  { alg: 'ES256', defaults: ['ES256'] },
  { alg: 'EdDSA', defaults: ['EdDSA', 'Ed25519'] },
] as const;

describe.each(cases)('PEM public key, $alg', ({ alg, defaults }) => {
  let keys: Pair;
  let other: Pair;
  beforeAll(async () => {
    keys = await pair(alg);
    other = await pair(alg);
  });

  it('verifies a token signed with the matching private key; the default algorithms are the key family', async () => {
    const verifier = await createVerifier(configFrom({ JWT_PUBLIC_KEY: keys.pem }));
    expect(verifier.keySource).toBe('publicKey');
    expect(verifier.algorithms).toEqual(defaults);
    const principal = await verifier.verify(await sign(keys.privateKey, alg, '42'));
    expect(principal.userId).toBe(42);
    expect(principal.expiresAt).toBeGreaterThan(Date.now());
  });

  it('accepts the PEM on one line with literal \\n sequences (as env files carry it)', async () => {
    const oneLine = keys.pem.trim().replace(/\n/g, '\\n');
    const verifier = await createVerifier(configFrom({ JWT_PUBLIC_KEY: oneLine }));
    expect((await verifier.verify(await sign(keys.privateKey, alg))).userId).toBe(4);
  });

  it('bad_signature: a token signed by another key of the same type', async () => {
    const verifier = await createVerifier(configFrom({ JWT_PUBLIC_KEY: keys.pem }));
    expect(await reasonOf(verifier.verify(await sign(other.privateKey, alg)))).toBe('bad_signature');
  });

  it('wrong_algorithm (algorithm confusion): an HS256 token whose HMAC secret is the public key PEM', async () => {
    const verifier = await createVerifier(configFrom({ JWT_PUBLIC_KEY: keys.pem }));
    for (const pemAsSecret of [keys.pem, keys.pem.trim(), `${keys.pem.trim()}\n`]) {
      const forged = hmacToken({ sub: '1', exp: nowS() + 600 }, pemAsSecret, { alg: 'HS256', typ: 'JWT' });
      expect(await reasonOf(verifier.verify(forged))).toBe('wrong_algorithm');
    }
    const forgedWithJose = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('1')
      .sign(new TextEncoder().encode(keys.pem));
    expect(await reasonOf(verifier.verify(forgedWithJose))).toBe('wrong_algorithm');
  });
});

describe('PEM public key: algorithms', () => {
  it('refuses a token of another asymmetric family (ES256 token, RSA key)', async () => {
    const rsa = await pair('RS256');
    const ec = await pair('ES256');
    const verifier = await createVerifier(configFrom({ JWT_PUBLIC_KEY: rsa.pem }));
    expect(await reasonOf(verifier.verify(await sign(ec.privateKey, 'ES256')))).toBe('wrong_algorithm');
  });

  it('JWT_ALGORITHMS narrows or switches within the key family (PS256 with an RSA key)', async () => {
    // A node KeyObject can sign with both RSA schemes (a WebCrypto CryptoKey is bound to one).
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const signWith = (alg: string) => new SignJWT({}).setProtectedHeader({ alg }).setSubject('4').setExpirationTime('5m').sign(rsa.privateKey);
    const verifier = await createVerifier(configFrom({ JWT_PUBLIC_KEY: pem, JWT_ALGORITHMS: 'PS256' }));
    expect(verifier.algorithms).toEqual(['PS256']);
    expect((await verifier.verify(await signWith('PS256'))).userId).toBe(4);
    expect(await reasonOf(verifier.verify(await signWith('RS256')))).toBe('wrong_algorithm');
    const both = await createVerifier(configFrom({ JWT_PUBLIC_KEY: pem, JWT_ALGORITHMS: 'RS256, PS256' }));
    expect((await both.verify(await signWith('PS256'))).userId).toBe(4);
    expect((await both.verify(await signWith('RS256'))).userId).toBe(4);
  });

  it('an EC P-384 key defaults to ES384', async () => {
    const ec = await pair('ES384');
    const verifier = await createVerifier(configFrom({ JWT_PUBLIC_KEY: ec.pem }));
    expect(verifier.algorithms).toEqual(['ES384']);
    expect((await verifier.verify(await sign(ec.privateKey, 'ES384'))).userId).toBe(4);
  });

  it('refuses to configure HS256 next to a public key (config and verifier both say why)', async () => {
    const rsa = await pair('RS256');
    expect(() => configFrom({ JWT_PUBLIC_KEY: rsa.pem, JWT_ALGORITHMS: 'RS256,HS256' })).toThrow(
      /JWT_ALGORITHMS: algorithms HS256 cannot be verified with the RSA 2048-bit key/,
    );
    const config = { ...configFrom({ JWT_PUBLIC_KEY: rsa.pem }), algorithms: ['RS256' as const, 'HS256' as const] };
    const error = await createVerifier(config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/^JWT_ALGORITHMS: HS256/) as unknown });
  });
});

describe('PEM public key: bad keys fail at startup with a clear error', () => {
  it('garbage, a truncated key, a private key, a too small RSA key (ConfigError names JWT_PUBLIC_KEY)', async () => {
    const rsa = await pair('RS256');
    const lines = rsa.pem.trim().split('\n');
    const truncated = [...lines.slice(0, 3), lines.at(-1)!].join('\n');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' });
    const cases: [string, RegExp][] = [
      ['not a key', /expected a PEM SPKI public key starting with -----BEGIN PUBLIC KEY-----/],
      [truncated, /expected a PEM SPKI public key; it does not parse/],
      [await exportPKCS8(rsa.privateKey), /got a PRIVATE key/],
      [small.toString(), /RSA public key of 1024 bits is too small/],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        configFrom({ JWT_PUBLIC_KEY: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const problem = (error as ConfigError).problems[0]!;
      expect(problem.variable).toBe('JWT_PUBLIC_KEY');
      expect(problem.expected).toMatch(message);
    }
  });

  it('createVerifier refuses a bad PEM in a hand-built config with config_invalid', async () => {
    const config = { ...configFrom({}), publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' };
    const error = await createVerifier(config).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'config_invalid', message: expect.stringMatching(/^JWT_PUBLIC_KEY: /) as unknown });
  });
});
