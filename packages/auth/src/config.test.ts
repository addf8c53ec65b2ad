import { ConfigError, loadConfig, printableConfig } from '@gw/config';
import { describe, expect, it } from 'vitest';
import { DEV_SECRET, authConfig, keySourceOf, signingSecretOf, usesDefaultSecret } from './config.js';
import { configFrom } from './testing/tokens.js';

function problemsOf(env: Record<string, string>): ConfigError['problems'] {
  try {
    configFrom(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('authConfig', () => {
  it('defaults: no key → the development secret, 5 s tolerance, tokens must expire, admin routes local, 10k cached tokens for 5 min', () => {
    const config = configFrom({});
    expect(config).toEqual({ clockToleranceS: 5, allowNoExp: false, tokenCacheSize: 10_000, tokenCacheMaxAgeS: 300 });
    expect(keySourceOf(config)).toEqual({ kind: 'secret', secret: DEV_SECRET, isDefault: true });
    expect(usesDefaultSecret(config)).toBe(true);
    expect(signingSecretOf(config)).toBe(DEV_SECRET);
  });

  it('JWT_SECRET replaces the default, unless it is the default itself', () => {
    expect(usesDefaultSecret(configFrom({ JWT_SECRET: 's3cret' }))).toBe(false);
    expect(signingSecretOf(configFrom({ JWT_SECRET: 's3cret' }))).toBe('s3cret');
    expect(usesDefaultSecret(configFrom({ JWT_SECRET: DEV_SECRET }))).toBe(true);
    expect(usesDefaultSecret(configFrom({ JWT_JWKS_URL: 'https://idp.example/jwks' }))).toBe(false);
    expect(signingSecretOf(configFrom({ JWT_JWKS_URL: 'https://idp.example/jwks' }))).toBeUndefined();
  });

  it('parses every variable', () => {
    const config = configFrom({
      JWT_SECRET: 'x',
      JWT_ISSUER: ' https://legacy.example ',
      JWT_AUDIENCE: 'gateway, admin-ui,',
      JWT_ALGORITHMS: 'HS256, HS512, HS256',
      JWT_CLOCK_TOLERANCE_S: '0',
      JWT_ALLOW_NO_EXP: 'true',
      ADMIN_TOKEN: 'adm',
      TOKEN_CACHE_SIZE: '0',
      TOKEN_CACHE_MAX_AGE_S: '60',
    });
    expect(config).toEqual({
      secret: 'x',
      issuer: 'https://legacy.example',
      audience: ['gateway', 'admin-ui'],
      algorithms: ['HS256', 'HS512'],
      clockToleranceS: 0,
      allowNoExp: true,
      adminToken: 'adm',
      tokenCacheSize: 0,
      tokenCacheMaxAgeS: 60,
    });
  });

  it('masks the secret and the admin token in printableConfig', () => {
    const sections = { auth: authConfig };
    const config = loadConfig({ JWT_SECRET: 'topsecret', ADMIN_TOKEN: 'adm', JWT_ISSUER: 'iss' }, sections);
    const shown = printableConfig(sections, config);
    expect(shown['auth']).toMatchObject({ JWT_SECRET: '********', ADMIN_TOKEN: '********', JWT_ISSUER: 'iss' });
    expect(JSON.stringify(shown)).not.toContain('topsecret');
  });

  it('a bad JWKS URL names the variable and says what was expected', () => {
    expect(problemsOf({ JWT_JWKS_URL: 'not a url' })).toEqual([
      {
        variable: 'JWT_JWKS_URL',
        expected: 'expected an http:// or https:// URL of a JSON Web Key Set',
        given: '"not a url"',
      },
    ]);
    expect(problemsOf({ JWT_JWKS_URL: 'ftp://idp/jwks' })[0]!.expected).toMatch(/not ftp:/);
  });

  it('a bad PEM names JWT_PUBLIC_KEY', () => {
    const [problem] = problemsOf({ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' });
    expect(problem!.variable).toBe('JWT_PUBLIC_KEY');
    expect(problem!.expected).toMatch(/^expected a PEM SPKI public key; it does not parse/);
  });

  it('only one key source', () => {
    expect(problemsOf({ JWT_SECRET: 'x', JWT_JWKS_URL: 'https://idp.example/jwks' })).toEqual([
      {
        variable: 'JWT_JWKS_URL',
        expected: 'set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL',
        given: '"https://idp.example/jwks"',
      },
    ]);
  });

  it('JWT_ALGORITHMS: never none, only known names, and fitting the key source', () => {
    for (const value of ['none', 'HS256,none', 'RS1', ' , ']) {
      const [problem] = problemsOf({ JWT_ALGORITHMS: value });
      expect(problem!.variable).toBe('JWT_ALGORITHMS');
      expect(problem!.expected).toMatch(/^expected a comma-separated list of JWS algorithms from HS256, /);
    }
    expect(problemsOf({ JWT_ALGORITHMS: 'RS256' })[0]!.expected).toMatch(
      /RS256 need JWT_PUBLIC_KEY or JWT_JWKS_URL/,
    );
    expect(problemsOf({ JWT_JWKS_URL: 'https://idp.example/jwks', JWT_ALGORITHMS: 'RS256,HS256' })[0]!.expected).toMatch(
      /HS256 need a shared secret, not a JWKS/,
    );
  });

  it('JWT_CLOCK_TOLERANCE_S must be a whole number of seconds from 0 to 300', () => {
    expect(problemsOf({ JWT_CLOCK_TOLERANCE_S: 'abc' })[0]).toMatchObject({
      variable: 'JWT_CLOCK_TOLERANCE_S',
      expected: 'expected a whole number from 0 to 300',
    });
    expect(problemsOf({ JWT_CLOCK_TOLERANCE_S: '3600' })[0]!.variable).toBe('JWT_CLOCK_TOLERANCE_S');
  });

  it('TOKEN_CACHE_SIZE is 0 to 1,000,000 entries; TOKEN_CACHE_MAX_AGE_S 1 s to a day', () => {
    expect(problemsOf({ TOKEN_CACHE_SIZE: '-1' })[0]).toMatchObject({ variable: 'TOKEN_CACHE_SIZE', expected: 'expected a whole number from 0 to 1000000' });
    expect(problemsOf({ TOKEN_CACHE_SIZE: 'lots' })[0]!.variable).toBe('TOKEN_CACHE_SIZE');
    expect(problemsOf({ TOKEN_CACHE_MAX_AGE_S: '0' })[0]).toMatchObject({ variable: 'TOKEN_CACHE_MAX_AGE_S', expected: 'expected a whole number from 1 to 86400' });
  });

  it('never quotes a secret in an error', () => {
    const problems = problemsOf({ JWT_SECRET: 'topsecret', JWT_PUBLIC_KEY: 'x' });
    expect(JSON.stringify(problems)).not.toContain('topsecret');
  });
});
