/**
 * The conformance checks, as plain functions that return the problems they found (empty: the source passes).
 * `runSourceConformance` registers one vitest test per check; this package's own tests run them against
 * sources that break each rule, so every check is known to be able to fail.
 */
import { loadConfig } from '@gw/config';
import type { ConfigSection } from '@gw/config';
import { sleep } from '@gw/core';
import type { ConformanceOptions, ConformanceTiming, SourceFixtureFactory } from './fixture.js';
import { Session, waitUntil } from './session.js';
import type { SourceRun } from './session.js';
import { declarationProblems } from './topic-schemas.js';

/** A source name as the registry, `SOURCES`, metrics labels and package names use it. */
const SOURCE_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Opens a session, runs `check` on it and always closes it; a close failure is a problem too. */
async function withSession<S extends ConfigSection>(
  factory: SourceFixtureFactory<S>,
  check: (session: Session<S>) => Promise<string[]>,
): Promise<string[]> {
  const session = await Session.open(factory);
  let problems: string[];
  try {
    problems = await check(session);
  } finally {
    await session.close();
  }
  return problems;
}

/** Starts the source, or returns the configuration problem that prevents it. */
function startOrProblem<S extends ConfigSection>(session: Session<S>): SourceRun | string {
  const parsed = session.config();
  return 'problem' in parsed ? parsed.problem : session.start(parsed.config);
}

/**
 * Declaration: a registry-friendly name, a description, a configuration section named after the source whose
 * defaults parse (every registered section is parsed at startup, run or not), and valid topic patterns, each
 * once, with a kind it may use (see `declarationProblem` in `@gw/topics`).
 */
export async function checkDeclaration<S extends ConfigSection>(factory: SourceFixtureFactory<S>): Promise<string[]> {
  return withSession(factory, (session) => {
    const { source, schemas } = session.fixture;
    const problems: string[] = [];
    if (!SOURCE_NAME.test(source.name)) {
      problems.push(`its name "${source.name}" is not lower-case words joined by "-"`);
    }
    if (source.description.trim() === '') {
      problems.push('its description is empty');
    }
    if (source.config.name !== source.name) {
      problems.push(`its config section is named "${source.config.name}", not "${source.name}"`);
    }
    try {
      loadConfig({}, { section: source.config });
    } catch (error) {
      problems.push(`its config defaults do not parse, so a process without its settings would not start: ${error instanceof Error ? error.message : String(error)}`);
    }
    const parsed = session.config();
    if ('problem' in parsed) {
      problems.push(parsed.problem);
    }
    problems.push(...declarationProblems(source.topics, schemas));
    return Promise.resolve(problems);
  });
}

/**
 * Publishing: within `firstPublishMs` every declared pattern gets a publication whose payload (as JSON) passes
 * its schema; nothing is published outside the declared patterns; polls are reported under its own name.
 */
export async function checkPublishing<S extends ConfigSection>(
  factory: SourceFixtureFactory<S>,
  timing: ConformanceTiming,
): Promise<string[]> {
  return withSession(factory, async (session) => {
    const run = startOrProblem(session);
    if (typeof run === 'string') {
      return [run];
    }
    const patterns = session.fixture.source.topics.map((t) => t.pattern);
    const complete = (): boolean => run.reportedPolls() && patterns.every((p) => run.publishedValid(run.startedAt, p));
    await waitUntil(() => run.ended() !== undefined || complete(), timing.firstPublishMs);
    const problems = patterns
      .filter((pattern) => !run.publishedValid(run.startedAt, pattern))
      .map((pattern) => `published nothing valid on "${pattern}" within ${timing.firstPublishMs} ms of starting`);
    if (!run.reportedPolls()) {
      problems.push(
        `reported no poll within ${timing.firstPublishMs} ms: call metrics.sourcePoll("${session.fixture.source.name}", result, seconds) for each round of work`,
      );
    }
    await run.stop(timing);
    return [...problems, ...run.problems()];
  });
}

/** Waits for the first valid publication of a run; a problem when none comes in time. */
async function firstPublication(run: SourceRun, timing: ConformanceTiming, when: string): Promise<string[]> {
  const published = await waitUntil(() => run.ended() !== undefined || run.publishedValid(run.startedAt), timing.firstPublishMs);
  return published && run.ended() === undefined ? [] : [`published nothing valid within ${timing.firstPublishMs} ms ${when}`];
}

/**
 * Stopping: after the abort `run` resolves within `stopMs`; afterwards nothing touches the bus for `quietMs`
 * (reads excepted with `knownLateReads`) and no subscription or interest is left open; and `run` can be called
 * again (the runner restarts sources).
 */
export async function checkStopping<S extends ConfigSection>(
  factory: SourceFixtureFactory<S>,
  timing: ConformanceTiming,
  options: Pick<ConformanceOptions, 'knownLateReads'> = {},
): Promise<string[]> {
  return withSession(factory, async (session) => {
    const problems: string[] = [];
    for (const when of ['of starting', 'of starting again after a stop']) {
      const run = startOrProblem(session);
      if (typeof run === 'string') {
        return [run];
      }
      problems.push(...(await firstPublication(run, timing, when)));
      await run.stop(timing);
      await run.checkQuiet(timing, options.knownLateReads !== undefined);
      problems.push(...run.problems());
      if (problems.length > 0) {
        break;
      }
    }
    return problems;
  });
}

/** Which outage a resilience check simulates. */
interface Outage {
  what: string;
  begin(run: SourceRun): void | Promise<void>;
  end(run: SourceRun): void | Promise<void>;
}

async function checkSurvives<S extends ConfigSection>(
  session: Session<S>,
  timing: ConformanceTiming,
  outage: Outage,
): Promise<string[]> {
  const run = startOrProblem(session);
  if (typeof run === 'string') {
    return [run];
  }
  const problems = await firstPublication(run, timing, 'of starting');
  if (problems.length === 0) {
    await outage.begin(run);
    await sleep(timing.outageMs);
    await outage.end(run);
    const backAt = performance.now();
    if (run.ended() === undefined) {
      const recovered = await waitUntil(() => run.ended() !== undefined || run.publishedValid(backAt), timing.recoverMs);
      if (!recovered || run.ended() !== undefined) {
        problems.push(`published nothing valid within ${timing.recoverMs} ms after ${outage.what} ended`);
      }
    }
  }
  await run.stop(timing);
  return [...problems, ...run.problems()];
}

/**
 * Bus outage: after its first publication the bus goes down for `outageMs` (requests reject with
 * `bus_unavailable`, nothing is delivered), then comes back. `run` must keep running throughout and publish a
 * valid payload within `recoverMs` of the bus coming back.
 */
export async function checkBusOutage<S extends ConfigSection>(
  factory: SourceFixtureFactory<S>,
  timing: ConformanceTiming,
): Promise<string[]> {
  return withSession(factory, (session) =>
    checkSurvives(session, timing, {
      what: 'the bus outage',
      begin: (run) => {
        run.observed.setDown(true);
      },
      end: (run) => {
        run.observed.setDown(false);
      },
    }),
  );
}

/** Upstream failure: as the bus outage, with the fixture's `upstream` failing instead of the bus. */
export async function checkUpstreamFailure<S extends ConfigSection>(
  factory: SourceFixtureFactory<S>,
  timing: ConformanceTiming,
): Promise<string[]> {
  return withSession(factory, (session) => {
    const upstream = session.fixture.upstream;
    if (upstream === undefined) {
      return Promise.resolve(['the fixture has no `upstream` control, but the suite was told the source has an upstream']);
    }
    return checkSurvives(session, timing, {
      what: 'the upstream failure',
      begin: () => upstream.fail(),
      end: () => upstream.recover(),
    });
  });
}
