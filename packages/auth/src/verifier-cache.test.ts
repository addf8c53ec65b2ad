import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { configFrom, hmacToken, nowS, reasonOf } from './testing/tokens.js';
import { createVerifier } from './verifier.js';

// The verification cache: a token presented again is answered without a signature check (the very same frozen
// Principal comes back), until its exp or the maximum age; refusals are never remembered.

const secret = 'cache-test-secret';

/** A clock for the cache only, moved by hand (jose keeps reading the real time). */
function handClock(): { now: () => number; advance: (ms: number) => void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

describe('token verification cache', () => {
  it('answers a token seen before from the cache: the same frozen Principal, not a second verification', async () => {
    const verifier = await createVerifier(configFrom({ JWT_SECRET: secret }));
    const token = hmacToken({ sub: '4', exp: nowS() + 600 }, secret);
    const first = await verifier.verify(token);
    expect(first.userId).toBe(4);
    expect(await verifier.verify(token)).toBe(first);
    expect(await verifier.verify(`  ${token} `)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.claims)).toBe(true);
    // Another token of the same user is verified on its own.
    const other = await verifier.verify(hmacToken({ sub: '4', exp: nowS() + 601 }, secret));
    expect(other).not.toBe(first);
  });

  it('TOKEN_CACHE_SIZE=0 turns it off: every presentation is verified', async () => {
    const verifier = await createVerifier(configFrom({ JWT_SECRET: secret, TOKEN_CACHE_SIZE: '0' }));
    const token = hmacToken({ sub: '4', exp: nowS() + 600 }, secret);
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
  });

  it('holds at most TOKEN_CACHE_SIZE tokens: the least recently used is verified again', async () => {
    const verifier = await createVerifier(configFrom({ JWT_SECRET: secret, TOKEN_CACHE_SIZE: '2' }));
    const tokens = ['1', '2', '3'].map((sub) => hmacToken({ sub, exp: nowS() + 600 }, secret));
    const [p1, p2] = [await verifier.verify(tokens[0]!), await verifier.verify(tokens[1]!)];
    await verifier.verify(tokens[2]!); // pushes out token 1
    expect(await verifier.verify(tokens[1]!)).toBe(p2);
    expect(await verifier.verify(tokens[0]!)).not.toBe(p1);
  });

  it('a cached token stops being accepted at its exp', async () => {
    const verifier = await createVerifier(configFrom({ JWT_SECRET: secret, JWT_CLOCK_TOLERANCE_S: '0' }));
    const token = hmacToken({ sub: '4', exp: nowS() + 2 }, secret);
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first);
    // Waits on the condition: the cache must give way to jose's own `expired` within a moment of exp.
    await expect.poll(() => reasonOf(verifier.verify(token)), { timeout: 5000, interval: 100 }).toBe('expired');
    expect(Date.now()).toBeGreaterThanOrEqual(first.expiresAt!);
  });

  it('a cached token is verified again after TOKEN_CACHE_MAX_AGE_S, even before its exp', async () => {
    const clock = handClock();
    const verifier = await createVerifier(configFrom({ JWT_SECRET: secret, TOKEN_CACHE_MAX_AGE_S: '60' }), { now: clock.now });
    const token = hmacToken({ sub: '4', exp: nowS() + 3600 }, secret);
    const first = await verifier.verify(token);
    clock.advance(59_000);
    expect(await verifier.verify(token)).toBe(first);
    clock.advance(1_000);
    const again = await verifier.verify(token);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('a token without exp (JWT_ALLOW_NO_EXP) lives in the cache for the maximum age only', async () => {
    const clock = handClock();
    const config = configFrom({ JWT_SECRET: secret, JWT_ALLOW_NO_EXP: 'true', TOKEN_CACHE_MAX_AGE_S: '10' });
    const verifier = await createVerifier(config, { now: clock.now });
    const token = hmacToken({ sub: '4' }, secret);
    const first = await verifier.verify(token);
    expect(await verifier.verify(token)).toBe(first);
    clock.advance(10_000);
    expect(await verifier.verify(token)).not.toBe(first);
  });

  it('never remembers a refusal: a token refused before its nbf is accepted once nbf has passed', async () => {
    const verifier = await createVerifier(configFrom({ JWT_SECRET: secret, JWT_CLOCK_TOLERANCE_S: '0' }));
    const token = hmacToken({ sub: '4', nbf: nowS() + 1, exp: nowS() + 600 }, secret);
    expect(await reasonOf(verifier.verify(token))).toBe('not_yet_valid');
    await expect.poll(async () => (await verifier.verify(token).catch(() => undefined))?.userId, { timeout: 5000, interval: 100 }).toBe(4);
    // A forged token stays refused however often it is presented.
    const forged = hmacToken({ sub: '4', exp: nowS() + 600 }, 'not-the-secret');
    for (let i = 0; i < 3; i++) {
      expect(await reasonOf(verifier.verify(forged))).toBe('bad_signature');
    }
  });

  it('JWKS key removal: a token verified before stays accepted until the maximum age, then is refused', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const oldKey: JWK = { ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'old' };
    const replacement = await generateKeyPair('ES256', { extractable: true });
    let keys: JWK[] = [oldKey];
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => {
            resolve();
          });
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    const clock = handClock();
    // jwksCacheMaxAgeMs 0: jose refetches the key set on every verification, so only our cache can answer.
    const verifier = await createVerifier(configFrom({ JWT_JWKS_URL: url, TOKEN_CACHE_MAX_AGE_S: '30' }), {
      now: clock.now,
      jwksCacheMaxAgeMs: 0,
      jwksCooldownMs: 0,
    });
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'old' }).setSubject('7').setExpirationTime('1h').sign(privateKey);
    const first = await verifier.verify(token);
    keys = [{ ...(await exportJWK(replacement.publicKey)), alg: 'ES256', kid: 'new' }];
    // The documented trade-off: the key is gone, the remembered verification is not (yet).
    expect(await verifier.verify(token)).toBe(first);
    clock.advance(30_000);
    expect(await reasonOf(verifier.verify(token))).toBe('bad_signature');
  });
});
