import { describe, expect, it } from 'vitest';
import type { ConfigSection } from '@gw/config';
import { checkBusOutage, checkDeclaration, checkPublishing, checkStopping, checkUpstreamFailure } from './checks.js';
import { defaultTiming } from './fixture.js';
import type { ConformanceOptions, ConformanceTiming, SourceFixtureFactory } from './fixture.js';

/** Slack on top of a check's own bounds for starting the fixture (ccxt's first import alone takes a second or two). */
const SETUP_SLACK_MS = 20_000;

/**
 * Registers the data-source conformance suite (vitest) for one source, in the calling test file. Every check
 * builds a fresh fixture with `factory` and a fresh memory bus:
 *
 * 1. declaration: name, description, config section named after the source with defaults that parse, topic
 *    patterns each with a payload schema;
 * 2. it starts and, within `timing.firstPublishMs`, publishes on every declared pattern a payload that passes the
 *    pattern's schema (checked on the JSON the Redis bus would carry); nothing outside the declared patterns;
 *    polls reported as metrics under its own name;
 * 3. on abort, `run` resolves within `timing.stopMs`; for `timing.quietMs` afterwards it makes no bus call
 *    (no timer or loop outlives it; reads excepted under `options.knownLateReads`) and leaves no subscription
 *    or interest open; it can be started again;
 * 4. it keeps running through a bus outage (requests reject with `bus_unavailable`) and publishes again once the
 *    bus is back;
 * 5. with `options.upstream`: the same while the fixture's upstream fails.
 *
 * Every check also fails on a `run` that resolves or rejects before its signal aborts, a publication outside
 * the declared topics or with an invalid payload, and `bus.close()` called by the source.
 */
export function runSourceConformance<S extends ConfigSection>(
  name: string,
  factory: SourceFixtureFactory<S>,
  options: ConformanceOptions = {},
): void {
  const timing: ConformanceTiming = { ...defaultTiming, ...options.timing };
  const timeout =
    timing.firstPublishMs * 2 + timing.outageMs + timing.recoverMs + 2 * (timing.stopMs + timing.quietMs) + SETUP_SLACK_MS;

  describe(`source conformance: ${name}`, () => {
    it('declares a name, a config section of that name whose defaults parse, and topic patterns with payload schemas', async () => {
      expect(await checkDeclaration(factory)).toEqual([]);
    });

    it('starts and publishes valid payloads on every declared topic pattern, and on nothing else', { timeout }, async () => {
      expect(await checkPublishing(factory, timing)).toEqual([]);
    });

    it('stops promptly on abort, leaves nothing running or subscribed, and starts again', { timeout }, async () => {
      expect(await checkStopping(factory, timing, options)).toEqual([]);
    });

    it('keeps running through a bus outage and publishes again once the bus is back', { timeout }, async () => {
      expect(await checkBusOutage(factory, timing)).toEqual([]);
    });

    if (options.upstream !== undefined) {
      it(`keeps running while its upstream fails (${options.upstream}) and publishes again once it recovers`, { timeout }, async () => {
        expect(await checkUpstreamFailure(factory, timing)).toEqual([]);
      });
    }
  });
}
