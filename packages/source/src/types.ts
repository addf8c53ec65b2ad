import type { Bus } from '@gw/bus';
import type { ConfigSection, SectionOutput } from '@gw/config';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';

/** What a running source receives. Narrow on purpose: a source talks to the world only through the bus. */
export interface SourceContext<Config> {
  /** The source's own configuration, parsed from its ConfigSection. */
  config: Config;
  bus: Bus;
  logger: Logger;
  metrics: GatewayMetrics;
}

/**
 * A data source: an independent worker that publishes on bus topics. It runs embedded in the gateway or in a
 * worker process (`pnpm worker --source NAME`), unchanged. It never imports a protocol adapter; adapters
 * find its data on the topics it declares.
 *
 * `run` resolves when `signal` aborts (after releasing what it holds); it rejects only for a failure it
 * cannot recover from, which the runner logs, counts and restarts with backoff.
 */
export interface DataSource<Section extends ConfigSection = ConfigSection> {
  readonly name: string;
  readonly description: string;
  readonly config: Section;
  /** Topic patterns this source publishes (documentation and the dashboard's topic list). */
  readonly topics: readonly string[];
  run(context: SourceContext<SectionOutput<Section>>, signal: AbortSignal): Promise<void>;
}
