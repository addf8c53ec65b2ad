import { GatewayError } from '@gw/core';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { mintDevToken } from './mint.js';
import { configFrom, reasonOf } from './testing/tokens.js';
import { createVerifier } from './verifier.js';
import { DEV_SECRET } from './config.js';

describe('mintDevToken', () => {
  it('signs HS256 with a string sub, iat and a 7-day expiry; the verifier accepts it (userId 4)', async () => {
    const token = await mintDevToken({ secret: 's3cret', sub: 4 });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims.sub).toBe('4');
    expect(typeof claims.iat).toBe('number');
    expect(claims.exp! - claims.iat!).toBe(7 * 86_400);
    expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(5);

    const principal = await (await createVerifier(configFrom({ JWT_SECRET: 's3cret' }))).verify(token);
    expect(principal.userId).toBe(4);
    expect(principal.expiresAt).toBe(claims.exp! * 1000);
  });

  it('round-trips with the development default and with issuer/audience from the config', async () => {
    const dev = await createVerifier(configFrom({}));
    expect((await dev.verify(await mintDevToken({ secret: DEV_SECRET, sub: 'alice' }))).userId).toBe('alice');

    const config = configFrom({ JWT_SECRET: 'k', JWT_ISSUER: 'legacy', JWT_AUDIENCE: 'gateway,admin' });
    const verifier = await createVerifier(config);
    const token = await mintDevToken({ secret: 'k', sub: '4', issuer: config.issuer!, audience: config.audience! });
    expect(decodeJwt(token)).toMatchObject({ iss: 'legacy', aud: ['gateway', 'admin'] });
    expect((await verifier.verify(token)).userId).toBe(4);
    // Without them the verifier refuses the token.
    expect(await reasonOf(verifier.verify(await mintDevToken({ secret: 'k', sub: '4' })))).toBe('invalid_claims');
  });

  it('expiresIn as a time span or seconds; a past expiry yields an expired token', async () => {
    const hour = decodeJwt(await mintDevToken({ secret: 'k', sub: '1', expiresIn: '1h' }));
    expect(hour.exp! - hour.iat!).toBe(3600);
    const seconds = decodeJwt(await mintDevToken({ secret: 'k', sub: '1', expiresIn: 90 }));
    expect(seconds.exp! - seconds.iat!).toBe(90);
    const verifier = await createVerifier(configFrom({ JWT_SECRET: 'k' }));
    expect(await reasonOf(verifier.verify(await mintDevToken({ secret: 'k', sub: '1', expiresIn: -60 })))).toBe('expired');
  });

  it('refuses an empty secret, an empty sub or an unreadable expiresIn', async () => {
    await expect(mintDevToken({ secret: '', sub: '4' })).rejects.toBeInstanceOf(GatewayError);
    await expect(mintDevToken({ secret: 'k', sub: ' ' })).rejects.toThrow(/subject \(sub\) is empty/);
    await expect(mintDevToken({ secret: 'k', sub: '4', expiresIn: 'soon' })).rejects.toThrow(/cannot read expiresIn "soon"/);
  });
});
