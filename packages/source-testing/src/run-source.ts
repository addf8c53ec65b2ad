import type { Bus } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { loadConfig } from '@gw/config';
import type { ConfigSection } from '@gw/config';
import { createLogger } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import type { DataSource } from '@gw/source';

const running: { abort: AbortController; done: Promise<void>; bus: Bus }[] = [];

/**
 * Runs `source` for a unit test: its configuration parsed from `env` through its own section (defaults
 * applied, as in a real process), on `bus` (a fresh memory bus by default), with a silent logger and no-op
 * metrics. Returns the bus; `stopTestSources()` (call it in `afterEach`) aborts every source started so and
 * waits for each to stop before closing its bus.
 */
export function startTestSource<S extends ConfigSection>(
  source: DataSource<S>,
  env: Record<string, string> = {},
  bus: Bus = createMemoryBus(),
): Bus {
  const { config } = loadConfig(env, { config: source.config });
  const abort = new AbortController();
  const done = source.run({ config, bus, logger: createLogger({ level: 'silent' }), metrics: noopMetrics }, abort.signal);
  running.push({ abort, done, bus });
  return bus;
}

/** Stops every source `startTestSource` started, then closes their buses. */
export async function stopTestSources(): Promise<void> {
  for (const { abort, done, bus } of running.splice(0)) {
    abort.abort();
    await done;
    await bus.close();
  }
}
