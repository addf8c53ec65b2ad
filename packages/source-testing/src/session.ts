import type { Bus } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { ConfigError, loadConfig } from '@gw/config';
import type { ConfigSection, SectionOutput } from '@gw/config';
import { createLogger, sleep } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import type { ConformanceTiming, SourceFixture, SourceFixtureFactory } from './fixture.js';
import { observeBus } from './observed-bus.js';
import type { BusMethod, ObservedBus, Publication } from './observed-bus.js';
import { TopicContract, schemasOf } from './topic-schemas.js';
import type { PayloadProblem } from './topic-schemas.js';

/** How long the fixture's `drive` may take to end after its signal aborts. */
const DRIVE_STOP_MS = 5_000;

/** Polls `condition` every 10 ms until it holds (true) or `timeoutMs` passes (false). */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() >= deadline) {
      return false;
    }
    await sleep(10);
  }
  return true;
}

/** Resolves with the promise's outcome, or `'timeout'` after `ms` (the promise is left to settle on its own). */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'timeout'> {
  const abort = new AbortController();
  const outcome = await Promise.race([
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    sleep(ms, abort.signal).then(() => 'timeout' as const),
  ]);
  abort.abort();
  return outcome;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * One fixture for one check: the fixture, a fresh memory bus, and the fixture's `drive` feeding that bus.
 * Sources are started on it (several times for the restart check) through {@link Session.start}.
 */
export class Session<S extends ConfigSection = ConfigSection> {
  readonly fixture: SourceFixture<S>;
  readonly contract: TopicContract;
  /** The suite's own handle of the bus; the source gets an observed wrapper of it. */
  readonly bus: Bus;
  readonly #driveAbort = new AbortController();
  /** The drive's outcome, observed from the start so an early failure is reported at close, not left unhandled. */
  readonly #driving: Promise<{ error?: unknown }> | undefined;

  private constructor(fixture: SourceFixture<S>) {
    this.fixture = fixture;
    this.contract = new TopicContract(schemasOf(fixture.source.topics), fixture.schemas);
    this.bus = createMemoryBus({ nodeId: `conformance-${fixture.source.name}` });
    this.#driving = fixture.drive?.(this.bus, this.#driveAbort.signal).then(
      () => ({}),
      (error: unknown) => ({ error }),
    );
  }

  static async open<S extends ConfigSection>(factory: SourceFixtureFactory<S>): Promise<Session<S>> {
    return new Session(await factory());
  }

  /** The source's configuration from the fixture's `env`, or the startup error an app would print. */
  config(): { config: SectionOutput<S> } | { problem: string } {
    const { source, env = {} } = this.fixture;
    try {
      return { config: loadConfig(env, { section: source.config }).section };
    } catch (error) {
      return { problem: `its settings (fixture env) do not parse: ${error instanceof ConfigError ? error.message : messageOf(error)}` };
    }
  }

  /** Starts `source.run` once, on a fresh observed wrapper of the bus. */
  start(config: SectionOutput<S>): SourceRun {
    return new SourceRun(this.fixture.source, config, observeBus(this.bus), this.contract);
  }

  /** Stops the drive, then releases the fixture and the bus. */
  async close(): Promise<void> {
    this.#driveAbort.abort();
    try {
      if (this.#driving !== undefined) {
        const outcome = await within(this.#driving, DRIVE_STOP_MS);
        if (outcome === 'timeout') {
          throw new Error(`the fixture's drive did not end within ${DRIVE_STOP_MS} ms of its abort`);
        }
        const failure = 'value' in outcome ? outcome.value.error : outcome.error;
        if (failure !== undefined) {
          throw new Error(`the fixture's drive failed: ${messageOf(failure)}`);
        }
      }
    } finally {
      await this.fixture.close?.();
      await this.bus.close();
    }
  }
}

/** A metrics call the source made about itself (or, wrongly, about another source). */
interface SourceMetric {
  method: 'sourcePoll' | 'sourceError';
  source: string;
}

/** How `run` ended, relative to the abort. */
interface RunEnd {
  at: number;
  /** The rejection, when it rejected. */
  error?: unknown;
  /** Whether it ended before its signal aborted (it must not). */
  early: boolean;
}

/** Bus calls without effects on the bus or other nodes. */
const readMethods: ReadonlySet<BusMethod> = new Set(['latest', 'latestMany', 'readSince', 'position', 'interestedTopics']);

/** Problems of one publication-related kind, counted, keeping the first few distinct messages. */
const SHOWN_PROBLEMS = 5;

/**
 * One call of `source.run`, observed: its bus calls and publications, its metrics, and how it ended.
 * `problems()` lists everything it did wrong so far.
 */
export class SourceRun {
  readonly observed: ObservedBus;
  readonly startedAt = performance.now();
  readonly #name: string;
  readonly #contract: TopicContract;
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;
  readonly #metrics: SourceMetric[] = [];
  readonly #verdicts = new WeakMap<Publication, PayloadProblem>();
  readonly #problems: string[] = [];
  #end: RunEnd | undefined;

  constructor(source: SourceFixture['source'], config: unknown, observed: ObservedBus, contract: TopicContract) {
    this.observed = observed;
    this.#name = source.name;
    this.#contract = contract;
    const record = (method: SourceMetric['method'], name: string): void => {
      if (this.#metrics.length < 10_000) {
        this.#metrics.push({ method, source: name });
      }
    };
    const metrics: GatewayMetrics = {
      ...noopMetrics,
      sourcePoll: (name) => {
        record('sourcePoll', name);
      },
      sourceError: (name) => {
        record('sourceError', name);
      },
    };
    const context = { config, bus: observed.bus, logger: createLogger({ level: 'silent' }), metrics };
    let running: Promise<void>;
    try {
      running = source.run(context as Parameters<typeof source.run>[0], this.#abort.signal);
    } catch (error) {
      running = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.#done = running.then(
      () => {
        this.#end = { at: performance.now(), early: !this.#abort.signal.aborted };
      },
      (error: unknown) => {
        this.#end = { at: performance.now(), error, early: !this.#abort.signal.aborted };
      },
    );
  }

  /** How `run` ended; undefined while it runs. (A method: a getter would be narrowed across awaits.) */
  ended(): RunEnd | undefined {
    return this.#end;
  }

  /** Whether a valid publication on a topic under `pattern` (any pattern when undefined) was delivered after `since`. */
  publishedValid(since: number, pattern?: string): boolean {
    return this.observed.publications.some(
      (p) =>
        p.at >= since &&
        p.outcome === 'delivered' &&
        this.#verdict(p) === undefined &&
        (pattern === undefined || this.#contract.patternOf(p.topic) === pattern),
    );
  }

  /** Whether it reported at least one poll under its own name. */
  reportedPolls(): boolean {
    return this.#metrics.some((m) => m.method === 'sourcePoll' && m.source === this.#name);
  }

  /** Aborts `run` and waits for it to end, at most `stopMs`. */
  async stop(timing: Pick<ConformanceTiming, 'stopMs'>): Promise<void> {
    this.#abort.abort();
    if ((await within(this.#done, timing.stopMs)) === 'timeout') {
      this.#problems.push(`run did not resolve within ${timing.stopMs} ms of its signal aborting`);
    }
  }

  /**
   * After `stop`: waits `quietMs` and reports any bus call made after `run` resolved (a timer or loop that
   * outlived it; reads are left out when `tolerateReads`) and any subscription or interest it left open.
   */
  async checkQuiet(timing: Pick<ConformanceTiming, 'quietMs'>, tolerateReads = false): Promise<void> {
    const end = this.#end;
    if (end === undefined) {
      return;
    }
    await sleep(timing.quietMs);
    const late = this.observed.calls.filter((call) => call.at > end.at && !(tolerateReads && readMethods.has(call.method)));
    const first = late[0];
    if (first !== undefined) {
      this.#problems.push(
        `used the bus ${late.length} time(s) within ${timing.quietMs} ms after run resolved (first: ${first.method} ${first.target}, ` +
          `${Math.round(first.at - end.at)} ms after): a timer or loop outlived run`,
      );
    }
    const open = this.observed.openResources();
    if (open.length > 0) {
      this.#problems.push(`left open after run resolved: ${open.join('; ')}`);
    }
  }

  /** Everything this run did wrong so far. */
  problems(): string[] {
    const problems = [...this.#problems];
    const end = this.#end;
    if (end?.early === true) {
      const when = `${Math.round(end.at - this.startedAt)} ms after it started`;
      problems.push(
        end.error === undefined
          ? `run resolved before its signal aborted (${when}): a source runs until it is stopped`
          : `run rejected before its signal aborted (${when}): ${messageOf(end.error)}`,
      );
    } else if (end?.error !== undefined) {
      problems.push(`run rejected after its signal aborted instead of resolving: ${messageOf(end.error)}`);
    }
    problems.push(...this.#publicationProblems());
    const foreign = new Set(this.#metrics.filter((m) => m.source !== this.#name).map((m) => `${m.method}("${m.source}")`));
    if (foreign.size > 0) {
      problems.push(`reported metrics under another source's name: ${[...foreign].join(', ')}`);
    }
    const closes = this.observed.calls.filter((call) => call.method === 'close').length;
    if (closes > 0) {
      problems.push(`called bus.close() ${closes} time(s): the bus belongs to the process, not to the source`);
    }
    return problems;
  }

  #verdict(publication: Publication): PayloadProblem {
    if (!this.#verdicts.has(publication)) {
      this.#verdicts.set(
        publication,
        publication.json === undefined
          ? `published on "${publication.topic}" ${publication.jsonProblem ?? 'a payload that is not JSON'}`
          : this.#contract.check(publication.topic, publication.json),
      );
    }
    return this.#verdicts.get(publication);
  }

  #publicationProblems(): string[] {
    const counts = new Map<string, number>();
    for (const publication of this.observed.publications) {
      const problem = this.#verdict(publication);
      if (problem !== undefined) {
        counts.set(problem, (counts.get(problem) ?? 0) + 1);
      }
    }
    const shown = [...counts].slice(0, SHOWN_PROBLEMS).map(([problem, count]) => (count > 1 ? `${problem} (${count} times)` : problem));
    if (counts.size > SHOWN_PROBLEMS) {
      shown.push(`… and ${counts.size - SHOWN_PROBLEMS} more kinds of bad publication`);
    }
    return shown;
  }
}
