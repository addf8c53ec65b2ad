import { GatewayError } from '@gw/core';
import { CompactSign, SignJWT, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { DEV_SECRET } from './config.js';
import { AuthError } from './reasons.js';
import { b64url, configFrom, hmacToken, nowS, reasonOf } from './testing/tokens.js';
import { createVerifier } from './verifier.js';

const secret = 'legacy-secret-of-the-python-services';
const key = new TextEncoder().encode(secret);

const verifierFor = (env: Record<string, string> = {}) => createVerifier(configFrom({ JWT_SECRET: secret, ...env }));

describe('HS256 verifier: happy paths', () => {
  it('accepts a legacy token {"sub":"4","iat","exp"} and reports userId as the number 4', async () => {
    const iat = nowS();
    const token = hmacToken({ sub: '4', iat, exp: iat + 3600 }, secret);
    const principal = await (await verifierFor()).verify(token);
    expect(principal).toEqual({
      userId: 4,
      sub: '4',
      expiresAt: (iat + 3600) * 1000,
      claims: { sub: '4', iat, exp: iat + 3600 },
    });
    expect(typeof principal.userId).toBe('number');
  });

  it('keeps a non-numeric or non-canonical sub as a string', async () => {
    const verifier = await verifierFor();
    const userIdOf = async (sub: string) => (await verifier.verify(hmacToken({ sub, exp: nowS() + 600 }, secret))).userId;
    expect(await userIdOf('user-abc')).toBe('user-abc');
    expect(await userIdOf('04')).toBe('04');
    expect(await userIdOf('1e3')).toBe('1e3');
    expect(await userIdOf(' 4')).toBe(' 4');
    expect(await userIdOf('9007199254740993')).toBe('9007199254740993');
    expect(await userIdOf('0')).toBe(0);
    expect(await userIdOf('-4')).toBe(-4);
  });

  it('tolerates a legacy sub written as a JSON integer', async () => {
    const principal = await (await verifierFor()).verify(hmacToken({ sub: 4, exp: nowS() + 600 }, secret));
    expect(principal.userId).toBe(4);
    expect(principal.sub).toBe('4');
    expect(principal.expiresAt).toBeGreaterThan(Date.now());
  });

  it('accepts tokens signed with jose too, and trims surrounding whitespace', async () => {
    const token = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('abc')
      .setExpirationTime('1h')
      .sign(key);
    const principal = await (await verifierFor()).verify(`  ${token}\n`);
    expect(principal.userId).toBe('abc');
    expect(principal.claims['role']).toBe('admin');
  });

  it('uses the development secret when no key is configured at all', async () => {
    const verifier = await createVerifier(configFrom({}));
    expect(verifier.keySource).toBe('secret');
    expect(verifier.algorithms).toEqual(['HS256']);
    expect((await verifier.verify(hmacToken({ sub: '7', exp: nowS() + 600 }, DEV_SECRET))).userId).toBe(7);
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '7', exp: nowS() + 600 }, secret)))).toBe('bad_signature');
  });

  it('accepts every algorithm listed in JWT_ALGORITHMS', async () => {
    const verifier = await verifierFor({ JWT_ALGORITHMS: 'HS256,HS512' });
    expect(verifier.algorithms).toEqual(['HS256', 'HS512']);
    expect((await verifier.verify(hmacToken({ sub: '1', exp: nowS() + 600 }, secret))).userId).toBe(1);
    expect((await verifier.verify(hmacToken({ sub: '2', exp: nowS() + 600 }, secret, { alg: 'HS512' }))).userId).toBe(2);
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '3', exp: nowS() + 600 }, secret, { alg: 'HS384' })))).toBe(
      'wrong_algorithm',
    );
  });

  it('accepts a token expired by less than the clock tolerance, and refuses it with no tolerance', async () => {
    const token = hmacToken({ sub: '4', exp: nowS() - 2 }, secret);
    expect((await (await verifierFor()).verify(token)).userId).toBe(4);
    expect(await reasonOf((await verifierFor({ JWT_CLOCK_TOLERANCE_S: '0' })).verify(token))).toBe('expired');
  });
});

describe('HS256 verifier: every rejection reason', () => {
  it('missing: an empty or blank token', async () => {
    const verifier = await verifierFor();
    expect(await reasonOf(verifier.verify(''))).toBe('missing');
    expect(await reasonOf(verifier.verify('   '))).toBe('missing');
  });

  it('malformed: garbage, two segments, five segments, bad base64, header not JSON', async () => {
    const verifier = await verifierFor();
    const good = hmacToken({ sub: '4', exp: nowS() + 600 }, secret);
    const [, payload, signature] = good.split('.');
    for (const token of [
      'garbage',
      'abc.def.ghi',
      `${b64url({ alg: 'HS256' })}.${payload!}`,
      `${good}.x.y`,
      `!!!*.${payload!}.${signature!}`,
      `${b64url('not json')}.${payload!}.${signature!}`,
      `${b64url([1, 2])}.${payload!}.${signature!}`,
      'a'.repeat(20_000),
    ]) {
      expect(await reasonOf(verifier.verify(token)), token.slice(0, 40)).toBe('malformed');
    }
  });

  it('malformed: a correctly signed payload that is not a JSON object, or a non-numeric exp', async () => {
    const verifier = await verifierFor();
    const notJson = await new CompactSign(new TextEncoder().encode('not json'))
      .setProtectedHeader({ alg: 'HS256' })
      .sign(key);
    const array = await new CompactSign(new TextEncoder().encode('[1,2]')).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect(await reasonOf(verifier.verify(notJson))).toBe('malformed');
    expect(await reasonOf(verifier.verify(array))).toBe('malformed');
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '4', exp: 'tomorrow' }, secret)))).toBe('malformed');
  });

  it('bad_signature: another secret, a tampered payload, a mangled signature', async () => {
    const verifier = await verifierFor();
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '4', exp: nowS() + 600 }, 'another-secret')))).toBe('bad_signature');

    const [header, , signature] = hmacToken({ sub: '4', exp: nowS() + 60 }, secret).split('.');
    const tampered = `${header!}.${b64url({ sub: '1', exp: nowS() + 60 })}.${signature!}`;
    expect(await reasonOf(verifier.verify(tampered))).toBe('bad_signature');

    const good = hmacToken({ sub: '4', exp: nowS() + 600 }, secret);
    const flipped = good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA');
    expect(await reasonOf(verifier.verify(flipped))).toBe('bad_signature');
    expect(await reasonOf(verifier.verify(`${good.slice(0, good.lastIndexOf('.'))}.`))).toBe('bad_signature');
  });

  it('expired: exp has passed; code token_expired and a human message', async () => {
    const verifier = await verifierFor();
    const error = await verifier.verify(hmacToken({ sub: '4', exp: nowS() - 60 }, secret)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({
      reason: 'expired',
      code: 'token_expired',
      message: 'unauthorized: token expired',
      details: { reason: 'expired', claim: 'exp' },
    });
  });

  it('not_yet_valid: nbf in the future', async () => {
    const verifier = await verifierFor();
    const error = await verifier.verify(hmacToken({ sub: '4', nbf: nowS() + 600, exp: nowS() + 600 }, secret)).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'not_yet_valid', code: 'unauthorized' });
    // Within the tolerance it is fine.
    expect((await verifier.verify(hmacToken({ sub: '4', nbf: nowS() + 2, exp: nowS() + 600 }, secret))).userId).toBe(4);
  });

  it('wrong_algorithm: alg none (unsigned token built by hand)', async () => {
    const verifier = await verifierFor();
    const claims = b64url({ sub: '4', exp: nowS() + 60 });
    expect(await reasonOf(verifier.verify(`${b64url({ alg: 'none', typ: 'JWT' })}.${claims}.`))).toBe(
      'wrong_algorithm',
    );
    expect(await reasonOf(verifier.verify(`${b64url({ alg: 'None' })}.${claims}.`))).toBe('wrong_algorithm');
    expect(await reasonOf(verifier.verify(`${b64url({ alg: 'none' })}.${claims}.${b64url('x')}`))).toBe(
      'wrong_algorithm',
    );
  });

  it('wrong_algorithm: an HS512 token (even with the right secret) to an HS256 verifier', async () => {
    const verifier = await verifierFor();
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '4', exp: nowS() + 600 }, secret, { alg: 'HS512', typ: 'JWT' })))).toBe(
      'wrong_algorithm',
    );
  });

  it('wrong_algorithm: an RS256 token to an HS256 verifier', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('4').setExpirationTime('5m').sign(privateKey);
    expect(await reasonOf((await verifierFor()).verify(token))).toBe('wrong_algorithm');
  });

  it('missing_exp: a token that never expires is refused unless JWT_ALLOW_NO_EXP is set', async () => {
    const token = hmacToken({ sub: '4', iat: nowS() }, secret);
    const error = await (await verifierFor()).verify(token).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unauthorized', reason: 'missing_exp', details: { reason: 'missing_exp', claim: 'exp' } });
    const allowing = await createVerifier(configFrom({ JWT_SECRET: secret, JWT_ALLOW_NO_EXP: 'true' }));
    expect(await allowing.verify(token)).toMatchObject({ userId: 4, expiresAt: undefined });
  });

  it('missing_sub: no sub, an empty sub, a sub that is neither string nor integer', async () => {
    const verifier = await verifierFor();
    for (const claims of [{ exp: nowS() + 60 }, { sub: '' }, { sub: { id: 4 } }, { sub: 4.5 }, { sub: null }]) {
      expect(await reasonOf(verifier.verify(hmacToken(claims, secret))), JSON.stringify(claims)).toBe('missing_sub');
    }
  });

  it('invalid_claims: wrong or missing issuer', async () => {
    const verifier = await verifierFor({ JWT_ISSUER: 'https://legacy.example' });
    expect((await verifier.verify(hmacToken({ sub: '4', iss: 'https://legacy.example', exp: nowS() + 600 }, secret))).userId).toBe(4);
    const wrong = await verifier.verify(hmacToken({ sub: '4', iss: 'https://evil.example', exp: nowS() + 600 }, secret)).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ reason: 'invalid_claims', details: { claim: 'iss' } });
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '4', exp: nowS() + 600 }, secret)))).toBe('invalid_claims');
  });

  it('invalid_claims: wrong or missing audience; any configured audience matches', async () => {
    const verifier = await verifierFor({ JWT_AUDIENCE: 'gateway, admin-ui' });
    expect((await verifier.verify(hmacToken({ sub: '4', aud: 'admin-ui', exp: nowS() + 600 }, secret))).userId).toBe(4);
    expect((await verifier.verify(hmacToken({ sub: '4', aud: ['other', 'gateway'], exp: nowS() + 600 }, secret))).userId).toBe(4);
    const wrong = await verifier.verify(hmacToken({ sub: '4', aud: 'other', exp: nowS() + 600 }, secret)).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ reason: 'invalid_claims', details: { claim: 'aud' } });
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '4', exp: nowS() + 600 }, secret)))).toBe('invalid_claims');
  });

  it('checks the signature before the claims: an expired forged token is bad_signature, not expired', async () => {
    const verifier = await verifierFor();
    expect(await reasonOf(verifier.verify(hmacToken({ sub: '4', exp: nowS() - 600 }, 'forger')))).toBe('bad_signature');
  });
});
