import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@gw/config';
import { loadGatewayConfig } from './config.js';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) {
      return error.problems.map((p) => `${p.variable}: ${p.expected}`);
    }
    throw error;
  }
  return [];
}

describe('loadGatewayConfig', () => {
  it('gives the parsed deployment environment, development by default', () => {
    expect(loadGatewayConfig({}, {}).environment).toEqual({ gatewayEnv: 'development' });
  });

  it('in production requires a key and an admin token, reported with the schema problems in one error', () => {
    const problems = problemsOf(() => loadGatewayConfig({ GATEWAY_ENV: 'production', PORT: 'eighty' }, {}));
    expect(problems).toEqual([
      expect.stringMatching(/^PORT: expected a comma-separated list of ports/),
      'JWT_SECRET: a JWT key in production (JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL)',
      'ADMIN_TOKEN: an admin token in production',
    ]);
    const config = loadGatewayConfig({ GATEWAY_ENV: 'production', JWT_SECRET: 'a-production-secret-0123456789', ADMIN_TOKEN: 'admin' }, {});
    expect(config.environment.gatewayEnv).toBe('production');
  });

  it('in production takes keys only over https: a JWT_JWKS_URL over http is refused, allowed in development', () => {
    const env = { JWT_JWKS_URL: 'http://keys.example.com/.well-known/jwks.json', ADMIN_TOKEN: 'admin' };
    expect(problemsOf(() => loadGatewayConfig({ ...env, GATEWAY_ENV: 'production' }, {}))).toEqual(['JWT_JWKS_URL: an https:// URL in production']);
    expect(problemsOf(() => loadGatewayConfig(env, {}))).toEqual([]);
    const https = { ...env, GATEWAY_ENV: 'production', JWT_JWKS_URL: 'https://keys.example.com/.well-known/jwks.json' };
    expect(problemsOf(() => loadGatewayConfig(https, {}))).toEqual([]);
  });

  it('reports a misspelt GATEWAY_ENV once, by its own variable, without the production rules', () => {
    expect(problemsOf(() => loadGatewayConfig({ GATEWAY_ENV: 'prod' }, {}))).toEqual(['GATEWAY_ENV: expected development, production or test']);
  });
});

describe('former setting names', () => {
  it('still work for the gateway, which warns once at start for each one set', async () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', main, '--print-config'], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      env: { PATH: process.env['PATH'] ?? '', SIGNALS_MAX_MESSAGES_PER_S: '50', STOCK_MAX_MESSAGES_PER_SEC: '7', STOCK_MESSAGES_PER_SECOND: '9' },
    });
    const printed = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
    expect(printed['signals']).toMatchObject({ SIGNALS_MESSAGES_PER_SECOND: 50, SIGNALS_MESSAGE_BURST: 250 });
    expect(printed['stock']).toMatchObject({ STOCK_MESSAGES_PER_SECOND: 9 });
    expect(stderr.split('\n').filter((line) => line.startsWith('gateway: warning:'))).toEqual([
      'gateway: warning: SIGNALS_MAX_MESSAGES_PER_S is a former name of SIGNALS_MESSAGES_PER_SECOND: rename it (the old name is accepted for one more release)',
      'gateway: warning: STOCK_MAX_MESSAGES_PER_SEC is a former name of STOCK_MESSAGES_PER_SECOND, which is also set and wins: remove STOCK_MAX_MESSAGES_PER_SEC',
    ]);
  });
});
