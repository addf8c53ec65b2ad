import type { ConfigSection } from '@gw/config';
import { cryptoSignalsSource } from '@gw/source-crypto-signals';
import { heartbeatSource } from '@gw/source-heartbeat';
import { replaySource } from '@gw/source-replay';
import { stockMarketSource } from '@gw/source-stock-market';
import { tradingSource } from '@gw/source-trading';
import { volumeWaveSource } from '@gw/source-volume-wave';
// new:source inserts the import of each generated source above this line (tools/new-source).
import { SourceRegistry } from '@gw/source';
import type { DataSource } from '@gw/source';

/**
 * Every data source this build knows, for the gateway and the worker alike. A new source package is added here
 * (and to this package's dependencies); `pnpm new:source <name>` does both, at the marker comments.
 */
export function builtInSources(): SourceRegistry {
  return new SourceRegistry([
    heartbeatSource,
    cryptoSignalsSource,
    stockMarketSource,
    volumeWaveSource,
    tradingSource,
    replaySource,
    // new:source inserts each generated source above this line (tools/new-source).
  ]);
}

/**
 * What the embedded gateway runs when `SOURCES` is not set: every simulated source. `replay` is opt-in
 * (`SOURCES=replay,volume-wave,...`) because it feeds the same stock topics as the simulated market.
 */
export const defaultEmbeddedSources: readonly string[] = [
  heartbeatSource.name,
  cryptoSignalsSource.name,
  stockMarketSource.name,
  volumeWaveSource.name,
  tradingSource.name,
];

/** Config sections of every known source, keyed by source name, to compose with the process's own. */
export function sourceSections(registry: SourceRegistry): Record<string, ConfigSection> {
  return Object.fromEntries(registry.all().map((s) => [s.name, s.config]));
}

/**
 * Which sources a process runs: `SOURCES` when set; otherwise the simulated sources on the embedded (memory)
 * bus, and none on Redis, where workers run them and gateways scale separately.
 */
export function selectSources(
  registry: SourceRegistry,
  requested: readonly string[] | undefined,
  busKind: 'memory' | 'redis',
): DataSource[] {
  if (requested !== undefined) {
    return registry.resolve(requested);
  }
  return busKind === 'memory' ? registry.resolve(defaultEmbeddedSources) : [];
}
