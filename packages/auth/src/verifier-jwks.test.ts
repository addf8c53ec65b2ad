import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '@gw/core';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthError } from './reasons.js';
import { configFrom, hmacToken, reasonOf } from './testing/tokens.js';
import { createVerifier } from './verifier.js';

interface JwksServer {
  url: string;
  /** What the server serves next; replace to rotate keys. */
  keys: JWK[];
  status: number;
  /** When true the server accepts requests and never answers. */
  hang: boolean;
  requests: number;
  close(): Promise<void>;
}

const servers: JwksServer[] = [];

async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const server = createServer((_req, res) => {
    state.requests += 1;
    if (state.hang) {
      return;
    }
    res.writeHead(state.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const state: JwksServer = {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    keys,
    status: 200,
    hang: false,
    requests: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  servers.push(state);
  return state;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface SigningKey {
  privateKey: CryptoKey;
  jwk: JWK;
  alg: string;
  kid: string | undefined;
}

async function signingKey(alg: string, kid: string | undefined): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), alg, use: 'sig', ...(kid === undefined ? {} : { kid }) };
  return { privateKey, jwk, alg, kid };
}

function tokenFor(key: SigningKey, sub = '4'): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, ...(key.kid === undefined ? {} : { kid: key.kid }) })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key.privateKey);
}

describe('remote JWKS', () => {
  let a: SigningKey;
  let b: SigningKey;
  let c: SigningKey;
  beforeAll(async () => {
    [a, b, c] = await Promise.all([signingKey('RS256', 'a'), signingKey('RS256', 'b'), signingKey('RS256', 'c')]);
  });

  it('verifies RS256, ES256 and EdDSA tokens from a local JWKS, fetching it once', async () => {
    const es = await signingKey('ES256', 'es');
    const ed = await signingKey('EdDSA', 'ed');
    const server = await startJwksServer([a.jwk, es.jwk, ed.jwk]);
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url }));
    expect(verifier.keySource).toBe('jwks');
    expect((await verifier.verify(await tokenFor(a, '1'))).userId).toBe(1);
    expect((await verifier.verify(await tokenFor(es, '2'))).userId).toBe(2);
    expect((await verifier.verify(await tokenFor(ed, 'u-3'))).userId).toBe('u-3');
    expect(server.requests).toBe(1);
  });

  it('key rotation: a token with a new kid verifies after the refresh triggered by the unknown kid', async () => {
    const server = await startJwksServer([a.jwk]);
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url }), { jwksCooldownMs: 0 });
    expect((await verifier.verify(await tokenFor(a))).userId).toBe(4);
    expect(server.requests).toBe(1);

    server.keys = [b.jwk];
    expect((await verifier.verify(await tokenFor(b, '5'))).userId).toBe(5);
    expect(server.requests).toBe(2);
    // The retired key is gone from the key cache too: a token of it this verifier has not seen is refused.
    expect(await reasonOf(verifier.verify(await tokenFor(a, '6')))).toBe('bad_signature');
    // A kid that is still unknown after a refresh: bad_signature (no trusted key signed it).
    expect(await reasonOf(verifier.verify(await tokenFor(c)))).toBe('bad_signature');
  });

  it('within the cooldown an unknown kid does not trigger a refetch (no request flood from random kids)', async () => {
    const server = await startJwksServer([a.jwk]);
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url }));
    expect((await verifier.verify(await tokenFor(a))).userId).toBe(4);
    server.keys = [a.jwk, b.jwk];
    for (let i = 0; i < 5; i += 1) {
      expect(await reasonOf(verifier.verify(await tokenFor(b)))).toBe('bad_signature');
    }
    expect(server.requests).toBe(1);
  });

  it('tries every matching key when the token has no kid and several keys fit', async () => {
    const noKid1 = await signingKey('RS256', undefined);
    const noKid2 = await signingKey('RS256', undefined);
    const stranger = await signingKey('RS256', undefined);
    const server = await startJwksServer([noKid1.jwk, noKid2.jwk]);
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url }));
    expect((await verifier.verify(await tokenFor(noKid2, '9'))).userId).toBe(9);
    expect((await verifier.verify(await tokenFor(noKid1, '8'))).userId).toBe(8);
    expect(await reasonOf(verifier.verify(await tokenFor(stranger)))).toBe('bad_signature');
  });

  it('wrong_algorithm: HS256 (e.g. signed with a JWK as secret) and alg none are refused', async () => {
    const server = await startJwksServer([a.jwk]);
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url }));
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '1' }, JSON.stringify(a.jwk))))).toBe('wrong_algorithm');
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '1' }, 'x', { alg: 'HS256', kid: 'a' })))).toBe(
      'wrong_algorithm',
    );
  });

  it('JWT_ALGORITHMS narrows the accepted algorithms', async () => {
    const es = await signingKey('ES256', 'es');
    const server = await startJwksServer([a.jwk, es.jwk]);
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url, JWT_ALGORITHMS: 'ES256' }));
    expect((await verifier.verify(await tokenFor(es))).userId).toBe(4);
    expect(await reasonOf(verifier.verify(await tokenFor(a)))).toBe('wrong_algorithm');
  });
});

describe('remote JWKS failures are clear infrastructure errors, not hangs and not bad tokens', () => {
  let key: SigningKey;
  beforeAll(async () => {
    key = await signingKey('ES256', 'k');
  });

  async function failure(promise: Promise<unknown>): Promise<GatewayError> {
    const error: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).not.toBeInstanceOf(AuthError);
    return error as GatewayError;
  }

  it('an unreachable JWKS URL (connection refused)', async () => {
    const server = await startJwksServer([]);
    const url = server.url;
    await server.close();
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: url }), { jwksTimeoutMs: 1000 });
    const started = Date.now();
    const error = await failure(verifier.verify(await tokenFor(key)));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.code).toBe('internal');
    expect(error.message).toContain(`could not get a verification key from the JWKS at ${url}`);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('a JWKS that never answers times out after jwksTimeoutMs', async () => {
    const server = await startJwksServer([key.jwk]);
    server.hang = true;
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url }), { jwksTimeoutMs: 300 });
    const started = Date.now();
    const error = await failure(verifier.verify(await tokenFor(key)));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.code).toBe('internal');
    expect(error.message).toBe(`could not get a verification key from the JWKS at ${server.url}: no answer within 300 ms`);
  });

  it('a JWKS answering 500 or serving something that is not a key set', async () => {
    const server = await startJwksServer([key.jwk]);
    server.status = 500;
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url }));
    expect((await failure(verifier.verify(await tokenFor(key)))).message).toMatch(/Expected 200 OK/);

    const broken = await startJwksServer([]);
    broken.keys = 'not keys' as unknown as JWK[];
    const verifier2 = await createVerifier(configFrom({ JWT_JWKS_URL: broken.url }));
    expect((await failure(verifier2.verify(await tokenFor(key)))).message).toMatch(/JSON Web Key Set malformed/);
  });

  it('recovers once the JWKS is reachable again', async () => {
    const server = await startJwksServer([key.jwk]);
    server.status = 503;
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: server.url }));
    await failure(verifier.verify(await tokenFor(key)));
    server.status = 200;
    expect((await verifier.verify(await tokenFor(key))).userId).toBe(4);
  });

  it('a JWKS URL that is not http(s) is refused by the config and by createVerifier', async () => {
    expect(() => configFrom({ JWT_JWKS_URL: 'file:///etc/jwks.json' })).toThrow(
      /JWT_JWKS_URL: expected an http:\/\/ or https:\/\/ URL of a JSON Web Key Set, not file:/,
    );
    const error = await createVerifier({ ...configFrom({}), jwksUrl: 'ftp://idp/jwks' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'config_invalid', message: 'JWT_JWKS_URL: expected an http:// or https:// URL, not ftp:' });
  });
});
