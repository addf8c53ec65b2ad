import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, defineConfigSection, envBoolean, envInt, envList, envPortList, loadConfig, printableConfig } from './index.js';

const server = defineConfigSection({
  name: 'server',
  schema: z.object({
    ports: envPortList().default([8080]),
    drainMs: envInt(0, 60_000).default(10_000),
    tls: envBoolean().default(false),
  }),
  env: { PORT: 'ports', DRAIN_TIMEOUT_MS: 'drainMs', TLS: 'tls' },
});

const auth = defineConfigSection({
  name: 'auth',
  schema: z.object({ secret: z.string().min(16, { error: 'expected at least 16 characters' }).optional(), symbols: envList().default(['BTCUSDT']) }),
  env: { JWT_SECRET: 'secret', SYMBOLS: 'symbols' },
  secrets: ['secret'],
});

describe('loadConfig', () => {
  it('applies the defaults held in the schemas', () => {
    const config = loadConfig({}, { server, auth });
    expect(config).toEqual({ server: { ports: [8080], drainMs: 10_000, tls: false }, auth: { symbols: ['BTCUSDT'] } });
  });

  it('parses environment strings into typed values, treating empty strings as unset', () => {
    const config = loadConfig({ PORT: '5000, 8000,8080', DRAIN_TIMEOUT_MS: '250', TLS: 'true', SYMBOLS: 'A, B,,C', JWT_SECRET: '' }, { server, auth });
    expect(config.server).toEqual({ ports: [5000, 8000, 8080], drainMs: 250, tls: true });
    expect(config.auth).toEqual({ symbols: ['A', 'B', 'C'] });
  });

  it('reports every problem of every section in one error, by variable, without secret values', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: '80,http', DRAIN_TIMEOUT_MS: '-5', TLS: 'maybe', JWT_SECRET: 'short-secret' }, { server, auth });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems.map((p) => p.variable).sort()).toEqual(['DRAIN_TIMEOUT_MS', 'JWT_SECRET', 'PORT', 'TLS']);
    expect(error.message).toContain('4 problems');
    expect(error.message).toMatch(/PORT: expected a comma-separated list of ports.*given "80,http"/);
    expect(error.message).toMatch(/DRAIN_TIMEOUT_MS: expected a whole number from 0 to 60000; given "-5"/);
    expect(error.message).toMatch(/JWT_SECRET: expected at least 16 characters; given a secret of 12 characters \(not shown\)/);
    expect(error.message).not.toContain('short-secret');
  });

  it('prints the effective configuration by variable with secrets masked', () => {
    const sections = { server, auth };
    const config = loadConfig({ JWT_SECRET: 'a-very-long-secret-value' }, sections);
    const printed = printableConfig(sections, config);
    expect(printed).toEqual({
      server: { PORT: [8080], DRAIN_TIMEOUT_MS: 10_000, TLS: false },
      auth: { JWT_SECRET: '********', SYMBOLS: ['BTCUSDT'] },
    });
    expect(JSON.stringify(printed)).not.toContain('a-very-long-secret-value');
  });
});
