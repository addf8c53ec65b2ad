import { describe, expect, it } from 'vitest';
import { LocalSubscription } from './internal/delivery.js';
import { recoverThenFollow } from './recover.js';
import type { Envelope, HistoryRead, MessageHandler, Subscription } from './types.js';

// A scripted stand-in for the two Bus methods recoverThenFollow uses, so races that a real backend
// produces only sometimes (live messages during the read, a late duplicate after it) happen every time.
// The contract suite runs the same algorithm against the real implementations.

const E = 'ep0ch';
const msg = (seq: number, epoch = E): Envelope<number> => ({ topic: 't', data: seq, publishedAt: 0, id: `${epoch}:${seq}` });
const upTo = (from: number, to: number): Envelope<number>[] =>
  Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));

class ScriptedBus {
  live: MessageHandler<number> | undefined;
  unsubscribed = false;
  readonly reads: string[] = [];
  constructor(private readonly onRead: (since: string, bus: ScriptedBus) => HistoryRead<number>) {}

  subscribe<T>(_pattern: string, handler: MessageHandler<T>): Promise<Subscription> {
    this.live = handler as unknown as MessageHandler<number>;
    return Promise.resolve({
      unsubscribe: () => {
        this.unsubscribed = true;
        return Promise.resolve();
      },
    });
  }

  readSince<T>(_topic: string, since: string): Promise<HistoryRead<T>> {
    this.reads.push(since);
    return Promise.resolve(this.onRead(since, this) as unknown as HistoryRead<T>);
  }

  push(...messages: Envelope<number>[]): void {
    for (const m of messages) {
      this.live?.(m);
    }
  }
}

function seqsOf(messages: Envelope[]): number[] {
  return messages.map((m) => Number(m.id?.split(':')[1]));
}

describe('recoverThenFollow', () => {
  it('drops live messages already replayed, also when they arrive after the read', async () => {
    const bus = new ScriptedBus((_since, b) => {
      b.push(msg(6), msg(7)); // live during the read; 6 and 7 are also in the read
      return { recovered: true, messages: upTo(4, 7), position: `${E}:7` };
    });
    const got: Envelope[] = [];
    const { recovery } = await recoverThenFollow(bus, 't', `${E}:3`, (m) => got.push(m));
    expect(recovery).toEqual({ recovered: true, replayed: 4 });
    bus.push(msg(7), msg(8), { topic: 't', data: -1, publishedAt: 0 }, msg(9));
    expect(seqsOf(got.filter((m) => m.id !== undefined))).toEqual([4, 5, 6, 7, 8, 9]);
    expect(got.filter((m) => m.id === undefined)).toHaveLength(1);
  });

  it('reads history again when the live buffer overflows, and stays gap-free', async () => {
    let round = 0;
    const bus = new ScriptedBus((since, b) => {
      round += 1;
      if (round === 1) {
        b.push(...upTo(6, 12)); // more than maxBuffered: dropped, to be read again
        return { recovered: true, messages: upTo(2, 5), position: `${E}:5` };
      }
      expect(since).toBe(`${E}:5`);
      b.push(msg(13));
      return { recovered: true, messages: upTo(6, 13), position: `${E}:13` };
    });
    const got: Envelope[] = [];
    const { recovery } = await recoverThenFollow(bus, 't', `${E}:1`, (m) => got.push(m), { maxBuffered: 3 });
    bus.push(msg(14));
    expect(recovery).toEqual({ recovered: true, replayed: 12 });
    expect(seqsOf(got)).toEqual(Array.from({ length: 13 }, (_, i) => i + 2));
    expect(bus.reads).toEqual([`${E}:1`, `${E}:5`]);
  });

  it('gives up after maxReads with an overflow outcome and continues live', async () => {
    const bus = new ScriptedBus((_since, b) => {
      b.push(...upTo(6, 20));
      return { recovered: true, messages: upTo(2, 5), position: `${E}:5` };
    });
    const got: Envelope[] = [];
    const { recovery } = await recoverThenFollow(bus, 't', `${E}:1`, (m) => got.push(m), {
      maxBuffered: 4,
      maxReads: 1,
    });
    expect(recovery).toEqual({ recovered: false, reason: 'overflow', missedFrom: `${E}:6`, replayed: 4 });
    // 15 messages through a buffer of 4: cleared three times, 18..20 remain.
    expect(seqsOf(got)).toEqual([2, 3, 4, 5, 18, 19, 20]);
  });

  it('passes on a failed read with what is left, and new-epoch live messages', async () => {
    const bus = new ScriptedBus(() => ({
      recovered: false,
      reason: 'epoch_changed',
      missedFrom: 'new:1',
      messages: [msg(1, 'new'), msg(2, 'new')],
      position: 'new:2',
    }));
    const got: Envelope[] = [];
    const { recovery } = await recoverThenFollow(bus, 't', `${E}:9`, (m) => got.push(m));
    expect(recovery).toEqual({ recovered: false, reason: 'epoch_changed', missedFrom: 'new:1', replayed: 2 });
    bus.push(msg(2, 'new'), msg(3, 'new'));
    expect(got.map((m) => m.id)).toEqual(['new:1', 'new:2', 'new:3']);
  });

  it('removes the subscription when the read fails, and reports throwing handlers during replay', async () => {
    const failing = new ScriptedBus(() => {
      throw new Error('read failed');
    });
    await expect(recoverThenFollow(failing, 't', `${E}:1`, () => undefined)).rejects.toThrow('read failed');
    expect(failing.unsubscribed).toBe(true);

    const errors: unknown[] = [];
    const bus = new ScriptedBus(() => ({ recovered: true, messages: upTo(2, 3), position: `${E}:3` }));
    const seen: number[] = [];
    await recoverThenFollow(
      bus,
      't',
      `${E}:1`,
      (m: Envelope<number>) => {
        seen.push(m.data);
        if (m.data === 2) {
          throw new Error('bad handler');
        }
      },
      { onError: (e) => errors.push(e) },
    );
    expect(seen).toEqual([2, 3]);
    expect(errors).toHaveLength(1);
  });

  it('without since is a plain subscription', async () => {
    const bus = new ScriptedBus(() => {
      throw new Error('not called');
    });
    const got: Envelope[] = [];
    const { recovery } = await recoverThenFollow(bus, 't', undefined, (m) => got.push(m));
    expect(recovery).toEqual({ recovered: true, replayed: 0 });
    bus.push(msg(1));
    expect(got).toHaveLength(1);
    expect(bus.reads).toEqual([]);
  });
});

describe('withLatest delivery (LocalSubscription)', () => {
  it('delivers the latest value first and never a live message at or before it, even a late one', () => {
    const got: Envelope[] = [];
    const errors: unknown[] = [];
    const sub = new LocalSubscription((m) => got.push(m), (e) => errors.push(e));
    sub.startBuffering();
    sub.deliver(msg(4));
    sub.releaseAfter(msg(5));
    sub.deliver(msg(5)); // late: arrived on the subscriber connection after the read's reply
    sub.deliver(msg(6));
    sub.deliver(msg(3)); // cannot happen (per-topic order); checks stop after the first newer id
    expect(seqsOf(got)).toEqual([5, 6, 3]);
    expect(errors).toEqual([]);
  });

  it('keeps the newest messages when the buffer overflows, and stops after close', () => {
    const got: Envelope[] = [];
    const sub = new LocalSubscription(
      (m) => got.push(m),
      () => undefined,
    );
    sub.startBuffering();
    for (let seq = 1; seq <= 2_000; seq += 1) {
      sub.deliver(msg(seq));
    }
    sub.releaseAfter(undefined);
    expect(got).toHaveLength(1_024);
    expect(seqsOf(got).at(0)).toBe(977);
    sub.close();
    sub.deliver(msg(2_001));
    expect(got).toHaveLength(1_024);
  });
});
