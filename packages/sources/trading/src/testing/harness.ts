import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Bus, Envelope } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { createPromMetrics, renderMetrics } from '@gw/metrics';
import { runSource } from '@gw/source';
import { tradingSource } from '../source.js';
import { tradingConfig } from '../config.js';

/** Writes an accounts file in a fresh temporary directory and returns its path. */
export function writeAccountsFile(accounts: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-accounts-'));
  const path = join(dir, 'accounts.json');
  writeFileSync(path, typeof accounts === 'string' ? accounts : JSON.stringify(accounts));
  return path;
}

export interface RunningTradingSource {
  bus: Bus;
  /** Every message published on `trading.*`, in order. */
  published: Envelope[];
  /** Messages published on one topic. */
  on(topic: string): Envelope[];
  /** The Prometheus text of the source's metrics. */
  metricsText(): Promise<string>;
  stop(): Promise<void>;
}

/** The trading source running on a memory bus with settings from `env` (TRADING_*, ACCOUNTS_FILE). */
export async function runTradingSource(env: Record<string, string>, bus: Bus = createMemoryBus()): Promise<RunningTradingSource> {
  const config = loadConfig(env, { trading: tradingConfig }).trading;
  const metrics = createPromMetrics({ registry: new Registry(), collectDefaultMetrics: false });
  const published: Envelope[] = [];
  const subscription = await bus.subscribe('trading.*', (message) => {
    published.push(message);
  });
  const abort = new AbortController();
  const done = runSource(tradingSource, config, { bus, logger: createLogger({ level: 'silent' }), metrics }, abort.signal, {
    initialDelayMs: 50,
    maxDelayMs: 200,
    resetAfterMs: 1_000,
  });
  return {
    bus,
    published,
    on: (topic) => published.filter((m) => m.topic === topic),
    metricsText: async () => (await renderMetrics(metrics)).body,
    async stop() {
      abort.abort();
      await done;
      await subscription.unsubscribe();
      await bus.close();
    },
  };
}
