import { availableParallelism } from 'node:os';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from './context.js';
import { ensureRedis } from './redis.js';
import type { BenchRedis } from './redis.js';
import type { Row } from './row.js';
import { profileSignals } from './scenarios/fanout.js';
import type { Scenario } from './scenarios/index.js';
import { profileStock } from './scenarios/stock.js';
import { profileTrading } from './scenarios/trading.js';
import { summarizeProfiles } from './profile.js';
import type { ProfileSummary } from './profile.js';
import { buildWsload } from './wsload.js';

/** The whole `pnpm bench` must finish within this (the issue: under 10 minutes); later scenarios are skipped. */
export const RUN_BUDGET_MS = 9.5 * 60_000;

export interface RunOutcome {
  rows: Row[];
  /** Scenarios that failed or were skipped, with why. */
  problems: { scenario: string; error: string }[];
  profiles: { scenario: string; summary: ProfileSummary; rows: Row[] }[];
  startedAt: Date;
  elapsedS: number;
}

export interface RunOptions {
  root: string;
  scenarios: readonly Scenario[];
  quick: boolean;
  /** `--loops`: the mixed scenario's event-loop counts. */
  loops?: number[] | undefined;
  profile: boolean;
  log: (message: string) => void;
}

/**
 * Runs the scenarios one after another (never two at once: they would measure each other), then the
 * profiling passes when asked. A failing scenario is recorded and the run goes on; scenarios that would start
 * after {@link RUN_BUDGET_MS} are skipped and recorded as such. The scratch directory is removed at the end.
 */
export async function runBench(options: RunOptions): Promise<RunOutcome> {
  const startedAt = new Date();
  const started = performance.now();
  const tmpDir = await mkdtemp(join(tmpdir(), 'gw-bench-'));
  let redis: Promise<BenchRedis | string> | undefined;
  const outcome: RunOutcome = { rows: [], problems: [], profiles: [], startedAt, elapsedS: 0 };
  try {
    options.log(`compiling wsload into ${tmpDir}`);
    const cpuProfileDir = join(tmpDir, 'profiles');
    await mkdir(cpuProfileDir);
    const ctx: BenchContext = {
      root: options.root,
      tmpDir,
      wsload: await buildWsload(tmpDir),
      quick: options.quick,
      loops: options.loops ?? [1, availableParallelism()],
      cpuProfileDir,
      redis: () => (redis ??= ensureRedis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379')),
      log: options.log,
    };
    const overBudget = (): boolean => performance.now() - started > RUN_BUDGET_MS;
    for (const scenario of options.scenarios) {
      if (overBudget()) {
        outcome.problems.push({ scenario: scenario.name, error: 'skipped: the run is past its 9.5-minute budget' });
        continue;
      }
      options.log(`— ${scenario.name}: ${scenario.description}`);
      try {
        outcome.rows.push(...(await scenario.run(ctx)));
      } catch (error) {
        outcome.problems.push({ scenario: scenario.name, error: error instanceof Error ? error.message : String(error) });
        options.log(`${scenario.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (options.profile) {
      // A pass runs when its scenario was selected (every pass when the run is not limited to some scenarios).
      const selected = new Set(options.scenarios.map((scenario) => scenario.name));
      const passes = [
        { of: 'signals', scenario: 'signals 5k × 100/s', run: profileSignals },
        { of: 'stock', scenario: 'stock 2k', run: profileStock },
        { of: 'trading', scenario: 'trading 5k', run: profileTrading },
      ].filter((pass) => selected.has(pass.of));
      for (const pass of passes) {
        if (overBudget()) {
          outcome.problems.push({ scenario: `profile ${pass.scenario}`, error: 'skipped: the run is past its budget' });
          continue;
        }
        options.log(`— profile: gateway under ${pass.scenario} (node --cpu-prof)`);
        const dir = join(cpuProfileDir, String(outcome.profiles.length));
        await mkdir(dir);
        try {
          const rows = await pass.run({ ...ctx, cpuProfileDir: dir });
          const startUs = rows[0]?.facts['window_start_us'];
          const endUs = rows[0]?.facts['window_end_us'];
          const window = typeof startUs === 'number' && typeof endUs === 'number' ? { startUs, endUs } : undefined;
          outcome.profiles.push({ scenario: pass.scenario, summary: await summarizeProfiles(dir, options.root, window), rows });
        } catch (error) {
          outcome.problems.push({ scenario: `profile ${pass.scenario}`, error: error instanceof Error ? error.message : String(error) });
        }
      }
    }
  } finally {
    const r = await redis;
    if (r !== undefined && typeof r !== 'string') {
      await r.stop();
    }
    await rm(tmpDir, { recursive: true, force: true });
    outcome.elapsedS = (performance.now() - started) / 1000;
  }
  return outcome;
}
