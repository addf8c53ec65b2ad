import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineConfigSection, envInt } from '@gw/config';
import { sleep } from '@gw/core';
import type { DataSource, SourceContext } from '@gw/source';
import { checkBusOutage, checkDeclaration, checkPublishing, checkStopping, checkUpstreamFailure } from './checks.js';
import type { ConformanceTiming, SourceFixture, UpstreamControl } from './fixture.js';

/**
 * Each check against a source that keeps the rules (it must pass) and against sources that break one rule
 * each (it must report exactly that): the suite is only worth running if it can fail.
 */

const timing: ConformanceTiming = { firstPublishMs: 1_000, stopMs: 200, quietMs: 200, outageMs: 200, recoverMs: 1_000 };

const sampleConfig = defineConfigSection({
  name: 'sample',
  schema: z.object({ intervalMs: envInt(1, 10_000).default(20) }),
  env: { SAMPLE_INTERVAL_MS: 'intervalMs' },
});
type SampleContext = SourceContext<z.output<typeof sampleConfig.schema>>;

const readingSchema = z.object({ seq: z.number().int().nonnegative() });

/** A loop that publishes `{seq}` on `sample.<seq % 2>` every interval, until aborted: the well-behaved source. */
async function publishLoop({ config, bus, metrics }: SampleContext, signal: AbortSignal, topicOf = (seq: number) => `sample.${seq % 2}`): Promise<void> {
  for (let seq = 0; !signal.aborted; seq += 1) {
    try {
      await bus.publishLatest(topicOf(seq), { seq });
      metrics.sourcePoll('sample', 'changed', 0);
    } catch {
      metrics.sourcePoll('sample', 'error', 0);
    }
    await sleep(config.intervalMs, signal);
  }
}

function sample(overrides: Partial<DataSource<typeof sampleConfig>> = {}): DataSource<typeof sampleConfig> {
  return { name: 'sample', description: 'publishes a counter', config: sampleConfig, topics: [{ kind: 'data', pattern: 'sample.*', schema: readingSchema }], run: publishLoop, ...overrides };
}

function fixture(source: DataSource<typeof sampleConfig>, extra: Partial<SourceFixture<typeof sampleConfig>> = {}) {
  return (): SourceFixture<typeof sampleConfig> => ({ source, ...extra });
}

/** All checks of the suite, in one list per source. */
async function allChecks(factory: () => SourceFixture<typeof sampleConfig>): Promise<string[]> {
  return [
    ...(await checkDeclaration(factory)),
    ...(await checkPublishing(factory, timing)),
    ...(await checkStopping(factory, timing)),
    ...(await checkBusOutage(factory, timing)),
  ];
}

describe('the conformance checks', () => {
  it('pass a source that keeps every rule', async () => {
    expect(await allChecks(fixture(sample()))).toEqual([]);
  });

  it('report a bad declaration: name, config section, defaults, patterns and schemas', async () => {
    const required = defineConfigSection({ name: 'Bad Name', schema: z.object({ url: z.string() }), env: { BAD_URL: 'url' } });
    const source: DataSource<typeof required> = {
      name: 'Bad Name',
      description: ' ',
      config: required,
      topics: [
        { kind: 'data', pattern: 'sample.*', schema: readingSchema },
        { kind: 'data', pattern: 'bad topic', schema: readingSchema },
        { kind: 'data', pattern: 'sample.x*y*', schema: readingSchema },
        { kind: 'strategy', pattern: 'stock.buylist.Bad-Name', schema: readingSchema },
        { kind: 'signals', pattern: 'signals', schema: readingSchema },
        { kind: 'data', pattern: 'stock.quote.*', schema: readingSchema },
        { kind: 'data', pattern: 'sample.*', schema: readingSchema },
      ],
      run: () => Promise.resolve(),
    };
    // An older fixture may still pass its own schemas: they must name exactly the declared patterns.
    const problems = await checkDeclaration(() => ({
      source,
      env: { BAD_URL: 'x' },
      schemas: { 'sample.*': readingSchema, 'stock.buylist.Bad-Name': readingSchema, signals: readingSchema, 'stock.quote.*': readingSchema, 'other.*': readingSchema },
    }));
    expect(problems).toEqual([
      'its name "Bad Name" is not lower-case words joined by "-"',
      'its description is empty',
      expect.stringContaining('its config defaults do not parse, so a process without its settings would not start: invalid configuration (1 problem):\n  - BAD_URL:'),
      'declares "bad topic", which is not a topic pattern (an exact topic, or a prefix ending in *)',
      'declares "bad topic" but the fixture gives no payload schema for it',
      'declares "sample.x*y*", which is not a topic pattern (an exact topic, or a prefix ending in *)',
      'declares "sample.x*y*" but the fixture gives no payload schema for it',
      'declares "stock.buylist.Bad-Name" as a strategy: a strategy topic is exactly stock.buylist.<name> (lower-case letters, digits, _)',
      'declares signals without a valid producer (the `source` field of its signals, e.g. "my-source")',
      'declares "stock.quote.*" as data, but it is a client protocol\'s topic: declare its kind (strategy, quotes, signals, trading)',
      'declares "sample.*" twice: one declaration (one kind, one schema) per pattern',
      'the fixture gives a schema for "other.*", which the source does not declare',
    ]);
    expect(await checkDeclaration(fixture(sample({ name: 'other' })))).toEqual(['its config section is named "sample", not "other"']);
    expect(await checkDeclaration(fixture(sample(), { env: { SAMPLE_INTERVAL_MS: 'soon' } }))).toEqual([
      expect.stringMatching(/^its settings \(fixture env\) do not parse: .*SAMPLE_INTERVAL_MS: expected a whole number/s),
    ]);
  });

  it('report publications outside the declared topics, invalid payloads and payloads that are not JSON', async () => {
    const offTopic = sample({ run: (context, signal) => publishLoop(context, signal, (seq) => (seq === 0 ? 'elsewhere' : `sample.${seq}`)) });
    expect(await checkPublishing(fixture(offTopic), timing)).toEqual(['published on "elsewhere", outside its declared topics']);
    // The other checks watch longer: an occasional stray publication is caught there, counted.
    const stray = sample({ run: (context, signal) => publishLoop(context, signal, (seq) => (seq % 5 === 4 ? 'elsewhere' : `sample.${seq}`)) });
    expect(await checkBusOutage(fixture(stray), timing)).toEqual([expect.stringMatching(/^published on "elsewhere", outside its declared topics \(\d+ times\)$/)]);

    const invalid = sample({
      async run({ bus, metrics }, signal) {
        metrics.sourcePoll('sample', 'changed', 0);
        await bus.publishLatest('sample.a', { seq: -1 });
        await bus.publishLatest('sample.b', { seq: 10n });
        await sleep(60_000, signal);
      },
    });
    expect(await checkPublishing(fixture(invalid), timing)).toEqual([
      'published nothing valid on "sample.*" within 1000 ms of starting',
      expect.stringMatching(/^published on "sample.a" a payload its schema refuses: ✖ Too small: expected number to be >=0 → at seq \(payload \{"seq":-1\}\)$/),
      'published on "sample.b" the payload is not JSON: Do not know how to serialize a BigInt',
    ]);
  });

  it('report a declared pattern that never gets a publication, and polls not reported under its own name', async () => {
    const silent = sample({
      topics: [
        { kind: 'data', pattern: 'sample.*', schema: readingSchema },
        { kind: 'data', pattern: 'sample-status', schema: z.object({}) },
      ],
      run: (context, signal) => publishLoop({ ...context, metrics: { ...context.metrics, sourcePoll: () => undefined } }, signal),
    });
    expect(await checkPublishing(fixture(silent), timing)).toEqual([
      'published nothing valid on "sample-status" within 1000 ms of starting',
      'reported no poll within 1000 ms: call metrics.sourcePoll("sample", result, seconds) for each round of work',
    ]);
    const misnamed = sample({ run: (context, signal) => publishLoop({ ...context, metrics: { ...context.metrics, sourcePoll: (_, result, seconds) => { context.metrics.sourcePoll('sampel', result, seconds); } } }, signal) });
    expect(await checkPublishing(fixture(misnamed), timing)).toEqual([
      'reported no poll within 1000 ms: call metrics.sourcePoll("sample", result, seconds) for each round of work',
      'reported metrics under another source\'s name: sourcePoll("sampel")',
    ]);
  });

  it('report a run that returns or rejects before it is stopped, and one that closes the bus', async () => {
    const quitter = sample({
      async run(context) {
        await context.bus.publishLatest('sample.a', { seq: 1 });
        context.metrics.sourcePoll('sample', 'changed', 0);
        await context.bus.close();
      },
    });
    expect(await checkPublishing(fixture(quitter), timing)).toEqual([
      expect.stringMatching(/^run resolved before its signal aborted \(\d+ ms after it started\): a source runs until it is stopped$/),
      'called bus.close() 1 time(s): the bus belongs to the process, not to the source',
    ]);
    const thrower = sample({ run: () => Promise.reject(new Error('no upstream configured')) });
    expect(await checkPublishing(fixture(thrower), timing)).toContainEqual(expect.stringMatching(/^run rejected before its signal aborted \(\d+ ms after it started\): Error: no upstream configured$/));
  });

  it('report a run that ignores the abort, one that leaves a timer publishing, and one that leaves a subscription', async () => {
    const deaf = sample({
      async run(context, signal) {
        await publishLoop(context, signal);
        await sleep(1_000); // not bound to the signal
      },
    });
    expect(await checkStopping(fixture(deaf), timing)).toEqual(['run did not resolve within 200 ms of its signal aborting']);

    const leaky = sample({
      async run(context, signal) {
        let seq = 0;
        const timer = setInterval(() => {
          seq += 1;
          context.bus.publishLatest('sample.t', { seq }).catch(() => undefined);
          context.metrics.sourcePoll('sample', 'changed', 0);
        }, 20);
        await sleep(60_000, signal);
        // The timer is forgotten on this path; clear it later so the test process stays clean.
        setTimeout(() => { clearInterval(timer); }, 1_000);
      },
    });
    expect(await checkStopping(fixture(leaky), timing)).toEqual([
      expect.stringMatching(/^used the bus \d+ time\(s\) within 200 ms after run resolved \(first: publishLatest sample.t, \d+ ms after\): a timer or loop outlived run$/),
    ]);

    const clingy = sample({
      async run(context, signal) {
        await context.bus.subscribe('input.*', () => undefined);
        await context.bus.declareInterest('input.a');
        await publishLoop(context, signal);
      },
    });
    expect(await checkStopping(fixture(clingy), timing)).toEqual(['left open after run resolved: subscription to input.*; interest lease on input.a']);
  });

  it('tolerate late reads only when they are a stated known issue, and late publications never', async () => {
    const lateReader = (publishToo: boolean) =>
      sample({
        async run(context, signal) {
          await publishLoop(context, signal);
          // Work left behind: it reads (and maybe publishes) after run resolved.
          setTimeout(() => {
            void context.bus.latest('sample.0').then(() => (publishToo ? context.bus.publishLatest('sample.0', { seq: 99 }) : undefined));
          }, 20);
        },
      });
    const late = /^used the bus \d+ time\(s\) within 200 ms after run resolved \(first: latest sample.0, \d+ ms after\): a timer or loop outlived run$/;
    expect(await checkStopping(fixture(lateReader(false)), timing)).toEqual([expect.stringMatching(late)]);
    expect(await checkStopping(fixture(lateReader(false)), timing, { knownLateReads: 'tracked elsewhere' })).toEqual([]);
    expect(await checkStopping(fixture(lateReader(true)), timing, { knownLateReads: 'tracked elsewhere' })).toEqual([
      expect.stringMatching(/^used the bus 1 time\(s\) within 200 ms after run resolved \(first: publishLatest sample.0, \d+ ms after\)/),
    ]);
  });

  it('report a source that dies in a bus outage, and one that never publishes again after it', async () => {
    const fragile = sample({
      async run({ config, bus, metrics }, signal) {
        while (!signal.aborted) {
          await bus.publishLatest('sample.a', { seq: 1 });
          metrics.sourcePoll('sample', 'changed', 0);
          await sleep(config.intervalMs, signal);
        }
      },
    });
    expect(await checkBusOutage(fixture(fragile), timing)).toEqual([
      expect.stringMatching(/^run rejected before its signal aborted \(\d+ ms after it started\): GatewayError: bus is disconnected \(simulated outage\)$/),
    ]);

    const sulky = sample({
      async run({ config, bus, metrics }, signal) {
        let failed = false;
        while (!signal.aborted) {
          if (!failed) {
            failed = await bus.publishLatest('sample.a', { seq: 1 }).then(() => false, () => true);
            metrics.sourcePoll('sample', 'changed', 0);
          }
          await sleep(config.intervalMs, signal);
        }
      },
    });
    expect(await checkBusOutage(fixture(sulky), timing)).toEqual(['published nothing valid within 1000 ms after the bus outage ended']);
  });

  it('drive the upstream control of the fixture, and report a fixture without one', async () => {
    const state = { down: false, failures: 0 };
    const upstream: UpstreamControl = {
      fail: () => { state.down = true; },
      recover: () => { state.down = false; },
    };
    const reading = sample({
      async run({ config, bus, metrics }, signal) {
        for (let seq = 0; !signal.aborted; seq += 1) {
          if (state.down) {
            state.failures += 1;
            metrics.sourcePoll('sample', 'error', 0);
          } else {
            await bus.publishLatest('sample.a', { seq });
            metrics.sourcePoll('sample', 'changed', 0);
          }
          await sleep(config.intervalMs, signal);
        }
      },
    });
    expect(await checkUpstreamFailure(fixture(reading, { upstream }), timing)).toEqual([]);
    expect(state.failures).toBeGreaterThan(0);
    expect(await checkUpstreamFailure(fixture(reading), timing)).toEqual(['the fixture has no `upstream` control, but the suite was told the source has an upstream']);

    const giveUp = sample({
      async run({ config, bus, metrics }, signal) {
        let broken = false;
        while (!signal.aborted) {
          broken ||= state.down;
          if (!broken) {
            await bus.publishLatest('sample.a', { seq: 0 });
            metrics.sourcePoll('sample', 'changed', 0);
          }
          await sleep(config.intervalMs, signal);
        }
      },
    });
    expect(await checkUpstreamFailure(fixture(giveUp, { upstream }), timing)).toEqual(['published nothing valid within 1000 ms after the upstream failure ended']);
  });

  it("stop the fixture's drive, and fail on a drive that fails or does not end", async () => {
    const seen: string[] = [];
    const drive = async (_bus: unknown, signal: AbortSignal): Promise<void> => {
      seen.push('started');
      await sleep(60_000, signal);
      seen.push('stopped');
    };
    expect(await checkPublishing(fixture(sample(), { drive }), timing)).toEqual([]);
    expect(seen).toEqual(['started', 'stopped']);

    const broken = (): Promise<void> => Promise.reject(new Error('feed broke'));
    await expect(checkPublishing(fixture(sample(), { drive: broken }), timing)).rejects.toThrow("the fixture's drive failed: Error: feed broke");
    const deaf = (): Promise<void> => sleep(6_000);
    await expect(checkPublishing(fixture(sample(), { drive: deaf }), timing)).rejects.toThrow("the fixture's drive did not end within 5000 ms of its abort");
  }, 30_000);
});
