import type { Bus } from '@gw/bus';
import type { ConfigSection, Env } from '@gw/config';
import type { DataSource } from '@gw/source';
import type { TopicSchemas } from './topic-schemas.js';

/**
 * What the conformance suite needs to run one source. The factory builds a fresh fixture for every check
 * (fresh fake servers, fresh temporary files); the suite gives the source a fresh memory bus each time.
 */
export interface SourceFixture<S extends ConfigSection = ConfigSection> {
  /** The source under test, as the registry holds it or built with test options (a fake exchange's URL). */
  source: DataSource<S>;
  /**
   * Its settings as environment variables, parsed through `source.config` as the apps parse them. Keep
   * intervals short: every check waits for publications. @default {} (the defaults)
   */
  env?: Env;
  /**
   * Optional, from before `DataSource.topics` carried schemas: payload schemas by pattern, exactly the declared
   * patterns; every publication must then pass the declared schema and this one. New fixtures leave it out.
   */
  schemas?: TopicSchemas;
  /**
   * What the source reads from the bus, provided on the bus it publishes to (the suite's own, unobserved
   * handle of it): e.g. bars for a strategy, interest for a source that polls only watched topics. Started
   * before the source; must end soon after `signal` aborts.
   */
  drive?: (bus: Bus, signal: AbortSignal) => Promise<void>;
  /** Makes the source's own upstream fail and recover (required when the suite is told it has one). */
  upstream?: UpstreamControl;
  /** Releases what the factory started (fake servers, temporary files). */
  close?: () => Promise<void>;
}

/** The source's upstream (an exchange, a file server) going down and coming back. */
export interface UpstreamControl {
  /** From now on the upstream fails (e.g. a fake exchange answers HTTP 500). */
  fail(): void | Promise<void>;
  /**
   * The upstream works again. A source that publishes only on change needs something new to publish: let the
   * upstream's data move on here (as it would have while it was down).
   */
  recover(): void | Promise<void>;
}

/** Builds a fixture; called once per check. */
export type SourceFixtureFactory<S extends ConfigSection = ConfigSection> = () => SourceFixture<S> | Promise<SourceFixture<S>>;

/** Bounds of the checks, in milliseconds. */
export interface ConformanceTiming {
  /** Until every declared pattern has a valid publication, from the start of `run`. @default 10000 */
  firstPublishMs: number;
  /** Until `run` resolves after its signal aborts. @default 2000 */
  stopMs: number;
  /** After `run` resolved: nothing more may happen on the bus for this long (a leftover timer shows here). @default 1000 */
  quietMs: number;
  /** How long each simulated outage lasts. @default 1000 */
  outageMs: number;
  /** Until a valid publication after an outage ends. @default 10000 */
  recoverMs: number;
}

export const defaultTiming: ConformanceTiming = {
  firstPublishMs: 10_000,
  stopMs: 2_000,
  quietMs: 1_000,
  outageMs: 1_000,
  recoverMs: 10_000,
};

/** How the suite treats a source; fixed when the tests are registered. */
export interface ConformanceOptions {
  /**
   * The source has an upstream of its own besides the bus; the fixture's `upstream` makes it fail. Its value
   * says how, for the test's name: `"the fake Bybit answers HTTP 500"`. Without it, the bus outage check is
   * the upstream check (the bus is the only upstream of a source fed from it).
   */
  upstream?: string;
  timing?: Partial<ConformanceTiming>;
  /**
   * A known defect, stated with where it is tracked: the source may still READ the bus (`latest`, `latestMany`,
   * `readSince`, `position`, `interestedTopics`) shortly after `run` resolved, from work it did not wait for.
   * The stop check then tolerates late reads; anything else after `run` resolved (a publication, a
   * subscription, interest) still fails it. Remove it once the source is fixed.
   */
  knownLateReads?: string;
}
