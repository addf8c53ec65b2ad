import { idleCapacity, handshakes } from './capacity.js';
import { referenceFanout, signalsFanout, signalsRedisFanout } from './fanout.js';
import { mixedLoad, mixedReference } from './mixed.js';
import type { Scenario } from './scenario.js';
import { stockPrices } from './stock.js';
import { tradingStream } from './trading-stream.js';
import { tradingPushes, tradingReference } from './trading.js';

export type { Scenario } from './scenario.js';

/** Every scenario, in the order `pnpm bench` runs them. */
export const scenarios: readonly Scenario[] = [
  referenceFanout,
  signalsFanout,
  signalsRedisFanout,
  stockPrices,
  tradingPushes,
  tradingReference,
  tradingStream,
  idleCapacity,
  handshakes,
  mixedLoad,
  mixedReference,
];

/** The scenarios named in `names` (all when undefined); throws naming any unknown one and the known ones. */
export function selectScenarios(names: readonly string[] | undefined): Scenario[] {
  if (names === undefined) {
    return [...scenarios];
  }
  const unknown = names.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  }
  return scenarios.filter((s) => names.includes(s.name));
}
