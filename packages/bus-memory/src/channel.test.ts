import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '@gw/bus-memory';
import { BusChannel } from '@gw/bus';

describe('BusChannel', () => {
  it('holds interest and a subscription exactly while it has members, whatever the interleaving', async () => {
    const bus = createMemoryBus();
    const received: unknown[] = [];
    let idle = 0;
    const channel = new BusChannel({
      bus,
      topic: 'trading.4.balance',
      declareInterest: true,
      onMessage: (m) => received.push(m.data),
      onFailure: () => undefined,
      onIdle: () => (idle += 1),
    });
    await bus.publishLatest('trading.4.balance', { n: 1 });
    const a = {};
    const b = {};
    void channel.add(a);
    void channel.remove(a);
    void channel.add(b);
    await channel.add(a);
    expect(await bus.interestedTopics('trading.')).toEqual(['trading.4.balance']);
    expect(channel.live).toBe(true);
    expect(received).toEqual([{ n: 1 }]);
    await channel.remove(a);
    expect(channel.live).toBe(true);
    await channel.remove(b);
    expect(channel.live).toBe(false);
    expect(await bus.interestedTopics('trading.')).toEqual([]);
    expect(idle).toBe(1);
    await bus.publish('trading.4.balance', { n: 2 });
    expect(received).toEqual([{ n: 1 }]);
    await bus.close();
  });

  it('retries while the bus refuses, and reports each failure', async () => {
    const bus = createMemoryBus();
    await bus.close();
    const failures: unknown[] = [];
    const channel = new BusChannel({
      bus,
      topic: 'trading.4.pnl',
      declareInterest: true,
      onMessage: () => undefined,
      onFailure: (e) => failures.push(e),
      onIdle: () => undefined,
    });
    await channel.add({});
    await expect.poll(() => failures.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    await channel.close();
  });
});
