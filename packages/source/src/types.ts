import type { Bus } from '@gw/bus';
import type { ConfigSection, SectionOutput } from '@gw/config';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import type { TopicDeclaration } from '@gw/topics';

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
 * worker process (`pnpm worker --source NAME`), unchanged. It never imports a protocol adapter: it declares
 * the kind of each topic it publishes, the runner announces that on the bus while it runs, and the adapters
 * serve every announced topic of the kinds they speak (a strategy's buy list, quotes, signals, trading data).
 *
 * `run` resolves when `signal` aborts (after releasing what it holds); it rejects only for a failure it
 * cannot recover from, which the runner logs, counts and restarts with backoff.
 */
export interface DataSource<Section extends ConfigSection = ConfigSection> {
  readonly name: string;
  readonly description: string;
  readonly config: Section;
  /**
   * Every topic pattern this source publishes, with its kind and payload schema (build them with the helpers
   * of `@gw/topics`: `strategyTopicDeclaration`, `signalTopicDeclaration`, `quoteTopicDeclarations`,
   * `tradingTopicDeclaration`, or `{kind: 'data', pattern, schema}`). The conformance suite checks every
   * publication against it.
   */
  readonly topics: readonly TopicDeclaration[];
  run(context: SourceContext<SectionOutput<Section>>, signal: AbortSignal): Promise<void>;
}
