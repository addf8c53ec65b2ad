import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHub, createMemoryBus } from '@gw/bus-memory';
import type { Bus } from '@gw/bus';
import { createLogger } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import { createSourceActivity } from './source-activity.js';
import { WORKER_TOPIC_PREFIX, startWorkerPresence, startWorkerRoster } from './workers.js';

const logger = createLogger({ level: 'silent' });
const opened: Bus[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((bus) => bus.close()));
});

function bus(nodeId: string, hub: MemoryHub): Bus {
  const created = createMemoryBus({ nodeId, hub });
  opened.push(created);
  return created;
}

/** Polls `probe` until it is true (every 10 ms, at most 5 s). */
async function until(what: string, probe: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('source activity', () => {
  it('records publishes and errors of each source, and passes everything through', async () => {
    const hub = new MemoryHub();
    const shared = bus('gw', hub);
    const counted: string[] = [];
    const metrics: GatewayMetrics = { ...noopMetrics, sourceError: (source, kind) => counted.push(`${source}:${kind}`) };
    let clock = 1_000;
    const activity = createSourceActivity(() => clock);
    const quotes = activity.watch('quotes', { bus: shared, metrics });
    const news = activity.watch('news', { bus: shared, metrics: noopMetrics });
    expect(activity.statuses().map((s) => [s.name, s.publishes, s.last_publish_at])).toEqual([
      ['quotes', 0, null],
      ['news', 0, null],
    ]);

    const received: unknown[] = [];
    await shared.subscribe('stock.quote.1', (message) => received.push(message.data));
    await quotes.bus.publish('stock.quote.1', { price: 1 });
    clock = 2_000;
    await quotes.bus.publishLatest('stock.quote.1', { price: 2 });
    expect(received).toEqual([{ price: 1 }, { price: 2 }]);
    expect((await shared.latest('stock.quote.1'))?.data).toEqual({ price: 2 });

    clock = 3_000;
    quotes.metrics.sourceError('quotes', 'network');
    news.metrics.sourceError('news', 'auth');
    const [quoteStatus, newsStatus] = activity.statuses();
    expect(quoteStatus).toEqual({ name: 'quotes', publishes: 2, last_publish_at: 2_000, errors: 1, last_error_at: 3_000, last_error_kind: 'network', modes: null });
    expect(newsStatus).toMatchObject({ publishes: 0, errors: 1, last_error_kind: 'auth' });
    // A source with delivery modes (trading: stream or poll per account) shows them in its health.
    quotes.metrics.sourceModeCount('quotes', 'stream', 3);
    quotes.metrics.sourceModeCount('quotes', 'poll', 1);
    quotes.metrics.sourceModeCount('quotes', 'stream', 2);
    expect(activity.statuses()[0]?.modes).toEqual({ stream: 2, poll: 1 });
    // The metrics underneath counted it too (the wrapper adds, never replaces); the frozen no-op ones still work.
    expect(counted).toEqual(['quotes:network']);
    // Bus state and identity read through.
    expect(quotes.bus.nodeId).toBe('gw');
    expect(quotes.bus.state).toBe('connected');
  });

  it('does not count a publish the bus refused', async () => {
    const hub = new MemoryHub();
    const closed = createMemoryBus({ nodeId: 'gone', hub });
    await closed.close();
    const activity = createSourceActivity();
    const watched = activity.watch('quotes', { bus: closed, metrics: noopMetrics });
    await expect(watched.bus.publish('x', 1)).rejects.toThrow();
    expect(activity.statuses()[0]?.publishes).toBe(0);
  });
});

describe('worker presence and roster', () => {
  it('lists a worker with its sources while it runs, and as down once it stops', async () => {
    const hub = new MemoryHub();
    const gateway = bus('gateway-1', hub);
    const worker = bus('worker-1', hub);
    const roster = await startWorkerRoster({ bus: gateway, forgetAfterMs: 60_000 });
    const activity = createSourceActivity();
    const watched = activity.watch('heartbeat', { bus: worker, metrics: noopMetrics });
    const presence = await startWorkerPresence({
      bus: worker,
      logger,
      startedAt: '2025-01-01T00:00:00.000Z',
      sources: () => activity.statuses(),
      publishIntervalMs: 20,
    });
    await watched.bus.publish('heartbeat', {});

    await until('the heartbeat publish in the worker summary', async () => {
      const [listing] = await roster.workers();
      return listing?.summary?.sources[0]?.publishes === 1;
    });
    const [up] = await roster.workers();
    expect(up).toMatchObject({ worker_id: 'worker-1', state: 'up', summary: { started_at: '2025-01-01T00:00:00.000Z', bus: 'connected' } });
    expect(await gateway.interestedTopics(WORKER_TOPIC_PREFIX)).toEqual([`${WORKER_TOPIC_PREFIX}worker-1`]);

    await presence.stop();
    await until('the worker listed as down', async () => (await roster.workers())[0]?.state === 'down');
    const [down] = await roster.workers();
    // Its last figures stay for the operator.
    expect(down?.summary?.sources[0]?.name).toBe('heartbeat');
    await roster.stop();
  });

  it('forgets a worker that has been down longer than forgetAfterMs', async () => {
    const hub = new MemoryHub();
    const gateway = bus('gateway-1', hub);
    const worker = bus('worker-2', hub);
    let clock = 0;
    const roster = await startWorkerRoster({ bus: gateway, forgetAfterMs: 1_000, now: () => clock });
    const presence = await startWorkerPresence({ bus: worker, logger, startedAt: 'now', sources: () => [] });
    expect((await roster.workers()).map((w) => w.state)).toEqual(['up']);
    await presence.stop();
    clock = 500;
    expect((await roster.workers()).map((w) => w.state)).toEqual(['down']);
    clock = 1_001;
    expect(await roster.workers()).toEqual([]);
    await roster.stop();
  });
});
