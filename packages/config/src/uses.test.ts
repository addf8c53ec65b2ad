import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  configurationMarkdown,
  defineConfigSection,
  deprecatedVariables,
  deprecatedVariablesIn,
  deprecationWarning,
  envInt,
  environmentConfig,
  loadConfig,
  parseConfig,
  printableConfig,
} from './index.js';
import type { ConfigSection } from './index.js';

const history = defineConfigSection({
  name: 'history',
  schema: z.object({ size: envInt(1, 1_000).default(100) }),
  env: { HISTORY_SIZE: 'size' },
  docs: { size: 'Items kept.' },
});

/** A section whose default depends on the environment, and which shares the history bounds. */
const producer = defineConfigSection({
  name: 'producer',
  schema: z.object({ mode: z.enum(['live', 'simulated']).optional() }),
  env: { PRODUCER_MODE: 'mode' },
  uses: { environment: environmentConfig, history },
});

const otherProducer = defineConfigSection({
  name: 'other-producer',
  schema: z.object({ rate: envInt(1, 100).default(5) }),
  env: { OTHER_RATE: 'rate' },
  uses: { history },
});

const limits = defineConfigSection({
  name: 'limits',
  schema: z.object({ perSecond: envInt(1, 1_000).default(20), burst: envInt(1, 1_000).default(250) }),
  env: { LIMIT_PER_SECOND: 'perSecond', LIMIT_BURST: 'burst' },
  deprecatedEnv: { LIMIT_MAX_PER_S: 'perSecond' },
});

describe('sections that use other sections', () => {
  it('give each user the used values under its key, parsed once from the owner\'s variables', () => {
    const config = loadConfig({ GATEWAY_ENV: 'production', HISTORY_SIZE: '7', OTHER_RATE: '9' }, { producer, other: otherProducer });
    expect(config.producer).toEqual({ environment: { gatewayEnv: 'production' }, history: { size: 7 } });
    expect(config.other).toEqual({ rate: 9, history: { size: 7 } });
    // One parse: both users hold the very same values.
    expect(config.producer.history).toBe(config.other.history);
    // Only the composed sections are returned at the top level; used ones are reached through their users.
    expect(Object.keys(config).sort()).toEqual(['other', 'producer']);
  });

  it('type the used values under their keys (checked by the typecheck)', () => {
    const config = loadConfig({}, { producer, other: otherProducer });
    expectTypeOf(config.producer.environment.gatewayEnv).toEqualTypeOf<'development' | 'production' | 'test'>();
    expectTypeOf(config.other.history.size).toEqualTypeOf<number>();
    expectTypeOf(config.other).not.toHaveProperty('environment');
    expect(config.other.history.size).toBe(100);
  });

  it('share a used section the app also composes itself, under the app\'s key', () => {
    const config = loadConfig({ GATEWAY_ENV: 'test' }, { env: environmentConfig, producer });
    expect(config.env).toEqual({ gatewayEnv: 'test' });
    expect(config.producer.environment).toBe(config.env);
  });

  it('report a bad value of a used section once, by its own variable, however many sections use it', () => {
    let caught: unknown;
    try {
      loadConfig({ HISTORY_SIZE: 'lots', GATEWAY_ENV: 'staging', OTHER_RATE: '0' }, { producer, other: otherProducer });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const variables = (caught as ConfigError).problems.map((p) => p.variable).sort();
    expect(variables).toEqual(['GATEWAY_ENV', 'HISTORY_SIZE', 'OTHER_RATE']);
  });

  it('leave out of parseConfig only the sections that cannot be built, keeping the others', () => {
    const { config, problems } = parseConfig({ HISTORY_SIZE: '0', GATEWAY_ENV: 'production' }, { env: environmentConfig, producer, limits });
    expect(problems.map((p) => p.variable)).toEqual(['HISTORY_SIZE']);
    expect(config.env).toEqual({ gatewayEnv: 'production' });
    expect(config.limits).toEqual({ perSecond: 20, burst: 250 });
    expect(config.producer).toBeUndefined();
  });

  it('print each used section once, under its own name, before its users', () => {
    const sections = { producer, other: otherProducer };
    const printed = printableConfig(sections, loadConfig({ HISTORY_SIZE: '3' }, sections));
    expect(Object.keys(printed)).toEqual(['environment', 'history', 'producer', 'other']);
    expect(printed).toEqual({
      environment: { GATEWAY_ENV: 'development' },
      history: { HISTORY_SIZE: 3 },
      producer: { PRODUCER_MODE: null },
      other: { OTHER_RATE: 5 },
    });
  });

  it('document each variable once, under its owner, and name the used sections under their users', () => {
    const markdown = configurationMarkdown({ producer, other: otherProducer });
    expect(markdown.match(/`HISTORY_SIZE`/g)).toHaveLength(1);
    expect(markdown.match(/`GATEWAY_ENV`/g)).toHaveLength(1);
    expect(markdown.indexOf('## history')).toBeLessThan(markdown.indexOf('## producer'));
    expect(markdown).toContain('## producer\n\nAlso uses the values of [`environment`](#environment) and [`history`](#history) (see those sections).\n\n| variable |');
    expect(markdown).toContain('| `HISTORY_SIZE` | `100` | Items kept. |');
  });

  it('refuse a variable read by two sections, naming both', () => {
    const copy = defineConfigSection({ name: 'copy', schema: z.object({ size: envInt(1, 9).default(1) }), env: { HISTORY_SIZE: 'size' } });
    expect(() => loadConfig({}, { producer, copy })).toThrow(/HISTORY_SIZE is read by config sections history and copy/);
  });

  it('refuse two different sections under one name, a uses key that is a schema key, and a cycle', () => {
    const fakeEnvironment = defineConfigSection({ name: 'environment', schema: z.object({}), env: {} });
    expect(() => loadConfig({}, { producer, environment: fakeEnvironment })).toThrow(/two different config sections appear as "environment"/);

    const shadowing = defineConfigSection({ name: 'shadowing', schema: z.object({ history: z.string().optional() }), env: {}, uses: { history } });
    expect(() => loadConfig({}, { shadowing })).toThrow(/uses history as "history", which is also a key of its own schema/);

    // Only reachable by building the objects by hand: defineConfigSection needs the used section first.
    const a: ConfigSection & { uses: Record<string, ConfigSection> } = { name: 'a', schema: z.object({}), env: {}, uses: {} };
    a.uses['b'] = defineConfigSection({ name: 'b', schema: z.object({}), env: {}, uses: { a } });
    expect(() => loadConfig({}, { a })).toThrow(/cycle: a → b → a/);
  });
});

describe('deprecated variable names', () => {
  it('are still read, and the current name wins when both are set', () => {
    expect(loadConfig({ LIMIT_MAX_PER_S: '50' }, { limits }).limits).toEqual({ perSecond: 50, burst: 250 });
    expect(loadConfig({ LIMIT_MAX_PER_S: '50', LIMIT_PER_SECOND: '30' }, { limits }).limits.perSecond).toBe(30);
    // An empty current name counts as unset, as everywhere.
    expect(loadConfig({ LIMIT_MAX_PER_S: '50', LIMIT_PER_SECOND: '' }, { limits }).limits.perSecond).toBe(50);
  });

  it('are named in problems by the name the user set', () => {
    expect(() => loadConfig({ LIMIT_MAX_PER_S: 'fast' }, { limits })).toThrow(/LIMIT_MAX_PER_S: expected a whole number from 1 to 1000; given "fast"/);
    expect(() => loadConfig({ LIMIT_MAX_PER_S: '5', LIMIT_PER_SECOND: '0' }, { limits })).toThrow(/LIMIT_PER_SECOND: expected/);
  });

  it('are listed with their replacements, and reported when set, once per variable', () => {
    const sections = { limits, producer };
    expect(deprecatedVariables(sections)).toEqual([{ variable: 'LIMIT_MAX_PER_S', replacement: 'LIMIT_PER_SECOND' }]);
    expect(deprecatedVariablesIn({ LIMIT_PER_SECOND: '5' }, sections)).toEqual([]);
    expect(deprecatedVariablesIn({ LIMIT_MAX_PER_S: '' }, sections)).toEqual([]);
    const alone = deprecatedVariablesIn({ LIMIT_MAX_PER_S: '5' }, sections);
    expect(alone).toEqual([{ variable: 'LIMIT_MAX_PER_S', replacement: 'LIMIT_PER_SECOND', overridden: false }]);
    expect(alone.map(deprecationWarning)).toEqual(['LIMIT_MAX_PER_S is a former name of LIMIT_PER_SECOND: rename it (the old name is accepted for one more release)']);
    const both = deprecatedVariablesIn({ LIMIT_MAX_PER_S: '5', LIMIT_PER_SECOND: '6' }, sections);
    expect(both.map(deprecationWarning)).toEqual(['LIMIT_MAX_PER_S is a former name of LIMIT_PER_SECOND, which is also set and wins: remove LIMIT_MAX_PER_S']);
  });

  it('are not printed or documented as settings of their own', () => {
    const printed = printableConfig({ limits }, loadConfig({ LIMIT_MAX_PER_S: '50' }, { limits }));
    expect(printed).toEqual({ limits: { LIMIT_PER_SECOND: 50, LIMIT_BURST: 250 } });
    expect(configurationMarkdown({ limits })).not.toContain('LIMIT_MAX_PER_S');
  });
});
