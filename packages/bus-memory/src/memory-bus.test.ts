import type { Bus } from '@gw/bus';
import { formatMessageId, parseMessageId } from '@gw/bus';
import { runBusContract } from '@gw/bus/testing';
import { describe, expect, it } from 'vitest';
import { MemoryHub, createMemoryBus } from './index.js';

runBusContract('memory', () => {
  const hub = new MemoryHub();
  const nodes: Bus[] = [];
  return Promise.resolve({
    createNode: (options) => {
      const bus = createMemoryBus({
        hub,
        ...(options?.interestTtlMs === undefined ? {} : { interestTtlMs: options.interestTtlMs }),
        ...(options?.onError === undefined ? {} : { onError: options.onError }),
      });
      nodes.push(bus);
      return Promise.resolve(bus);
    },
    crashNode: (bus) => {
      hub.simulateCrash(bus);
      return Promise.resolve();
    },
    cleanup: async () => {
      await Promise.all(nodes.map((bus) => bus.close()));
    },
  });
}, { restartableBackend: false });

describe('memory bus bounds', () => {
  it('forgets the least recently written topic past maxTopics, which shows as a new epoch', async () => {
    const bus = createMemoryBus({ hub: new MemoryHub({ maxTopics: 2 }) });
    const first = await bus.append('b.1', 'x', { maxLength: 10, maxAgeMs: 60_000 });
    await bus.publishLatest('b.2', 'y');
    await bus.publishLatest('b.3', 'z');
    expect(await bus.latest('b.2')).toBeDefined();
    expect(await bus.position('b.1')).toBeUndefined();
    const read = await bus.readSince('b.1', first.id);
    expect(read).toMatchObject({ recovered: false, reason: 'epoch_changed', messages: [] });
    await bus.close();
  });

  it('caps history at maxHistoryLength whatever an append asks for', async () => {
    const bus = createMemoryBus({ hub: new MemoryHub({ maxHistoryLength: 3 }) });
    let epoch = '';
    for (let i = 0; i < 5_000; i += 1) {
      epoch = parseMessageId((await bus.append('cap.t', i, { maxLength: 1_000_000, maxAgeMs: 60_000 })).id)!.epoch;
    }
    const read = await bus.readSince<number>('cap.t', formatMessageId(epoch, 0));
    expect(read.messages.map((m) => m.data)).toEqual([4_997, 4_998, 4_999]);
    await bus.close();
  });

  it('refuses two live nodes with one id on a hub', () => {
    const hub = new MemoryHub();
    const bus = createMemoryBus({ hub, nodeId: 'same' });
    expect(() => createMemoryBus({ hub, nodeId: 'same' })).toThrow(/already/);
    void bus.close();
  });

  it('keeps per-topic order for everyone when a handler publishes during delivery', async () => {
    const hub = new MemoryHub();
    const a = createMemoryBus({ hub });
    const b = createMemoryBus({ hub });
    const seenByB: number[] = [];
    await a.subscribe<number>('re.t', (m) => {
      if (m.data === 1) {
        void a.publish('re.t', 2);
      }
    });
    await b.subscribe<number>('re.t', (m) => seenByB.push(m.data));
    await a.publish('re.t', 1);
    expect(seenByB).toEqual([1, 2]);
    await Promise.all([a.close(), b.close()]);
  });
});
