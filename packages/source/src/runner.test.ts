import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryHub, createMemoryBus } from '@gw/bus-memory';
import { defineConfigSection } from '@gw/config';
import { GatewayError, createLogger } from '@gw/core';
import { createPromMetrics, renderMetrics } from '@gw/metrics';
import { SourceDirectory, signalTopicDeclaration, strategyTopicDeclaration } from '@gw/topics';
import { SourceRegistry, runSource } from './index.js';
import type { DataSource } from './index.js';

const emptyConfig = defineConfigSection({ name: 'flaky', schema: z.object({}), env: {} });

describe('runSource', () => {
  it('restarts a failing source with backoff, counts each failure, and stops on abort', async () => {
    const metrics = createPromMetrics({ registry: new Registry(), collectDefaultMetrics: false });
    const bus = createMemoryBus();
    const starts: number[] = [];
    const flaky: DataSource<typeof emptyConfig> = {
      name: 'flaky',
      description: 'fails twice, then publishes until aborted',
      config: emptyConfig,
      topics: [{ kind: 'data', pattern: 'flaky.out', schema: z.object({ ok: z.boolean() }) }],
      async run(context, signal) {
        starts.push(Date.now());
        if (starts.length <= 2) {
          throw new Error(`failure ${starts.length}`);
        }
        await context.bus.publish('flaky.out', { ok: true });
        await new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => { resolve(); }, { once: true });
        });
      },
    };
    const received: unknown[] = [];
    await bus.subscribe('flaky.out', (m) => received.push(m.data));
    const abort = new AbortController();
    const done = runSource(flaky, {}, { bus, logger: createLogger({ level: 'silent' }), metrics }, abort.signal, {
      initialDelayMs: 40,
      maxDelayMs: 1_000,
      resetAfterMs: 60_000,
    });
    await expect.poll(() => received.length, { timeout: 15_000 }).toBe(1);
    expect(starts).toHaveLength(3);
    // Backoff doubles: the second wait is at least half of 80 ms (full jitter keeps at least delay/2).
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(40);
    const { body } = await renderMetrics(metrics);
    expect(body).toMatch(/gateway_source_errors_total\{source="flaky",kind="internal"\} 2/);
    abort.abort();
    await done;
    await bus.close();
  });
});

describe('source announcements', () => {
  it('announce what a running source declares to every process on the bus, and withdraw it when it stops', async () => {
    const metrics = createPromMetrics({ registry: new Registry(), collectDefaultMetrics: false });
    const hub = new MemoryHub();
    const bus = createMemoryBus({ nodeId: 'worker-a', hub });
    const observer = createMemoryBus({ nodeId: 'gateway-b', hub });
    const strategy: DataSource<typeof emptyConfig> = {
      name: 'flaky',
      description: 'a strategy that also emits signals',
      config: emptyConfig,
      topics: [strategyTopicDeclaration('golden_cross'), signalTopicDeclaration('golden_cross')],
      run: (_context, signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => { resolve(); }, { once: true });
        }),
    };
    let changes = 0;
    const directory = await SourceDirectory.start({ bus: observer, onChange: () => { changes += 1; } });
    expect(directory.strategies()).toEqual([]);
    const abort = new AbortController();
    const done = runSource(strategy, {}, { bus, logger: createLogger({ level: 'silent' }), metrics }, abort.signal);
    await expect.poll(() => directory.strategies(), { timeout: 15_000 }).toEqual(['golden_cross']);
    expect(directory.signalProducers()).toEqual(['golden_cross']);
    expect(directory.serves('strategy')).toBe(true);
    expect(directory.serves('quotes')).toBe(false);
    expect(directory.announcements).toEqual([
      expect.objectContaining({ source: 'flaky', node: 'worker-a', topics: [{ kind: 'strategy', pattern: 'stock.buylist.golden_cross' }, { kind: 'signals', pattern: 'signals', producer: 'golden_cross' }] }),
    ]);
    abort.abort();
    await done;
    await expect.poll(() => directory.announcements.length, { timeout: 15_000 }).toBe(0);
    expect(changes).toBe(2); // appeared, went away
    await directory.close();
    await observer.close();
    await bus.close();
  });
});

describe('SourceRegistry', () => {
  it('resolves names in order and names the known sources when one is unknown', () => {
    const make = (name: string): DataSource => ({
      name,
      description: name,
      config: emptyConfig,
      topics: [],
      run: () => Promise.resolve(),
    });
    const registry = new SourceRegistry([make('a'), make('b')]);
    expect(registry.resolve(['b', 'a']).map((s) => s.name)).toEqual(['b', 'a']);
    expect(() => registry.resolve(['c'])).toThrow(new GatewayError('config_invalid', { message: 'source "c": unknown (known sources: a, b)' }));
    expect(() => { registry.register(make('a')); }).toThrow(/registered twice/);
  });
});
