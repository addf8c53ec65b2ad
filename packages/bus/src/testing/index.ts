/**
 * The one contract suite every Bus implementation must pass, unchanged. An implementation's test file calls
 * `runBusContract(name, fixture)`; the fixture simulates a cluster of nodes on one backend.
 */
import { GatewayError } from '@gw/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatMessageId, parseMessageId } from '../ids.js';
import type { MessageId } from '../ids.js';
import type { Bus, Envelope, HistoryOptions, InterestChange, MessageHandler } from '../types.js';

export interface NodeOptions {
  interestTtlMs?: number;
  onError?: (error: unknown) => void;
}

export interface BusClusterFixture {
  /**
   * A new node on the shared backend, already `connected` when it resolves. `onError` receives what the
   * node reports (throwing handlers, background failures); without it the fixture decides.
   */
  createNode(options?: NodeOptions): Promise<Bus>;
  /**
   * Stops `bus` WITHOUT cleanup, as if its process died: timers and connections stop, its interest is NOT
   * released (so it must expire after the node's `interestTtlMs`).
   */
  crashNode(bus: Bus): Promise<void>;
  /**
   * Only for backends that can be restarted (Redis): stops the backend, losing its data, runs `whileDown`
   * (if given) while it is down, then starts it again on the same address. Resolves when it accepts
   * connections again (the nodes may still be reconnecting).
   */
  restartBackend?: (whileDown?: () => Promise<void>) => Promise<void>;
  /** Closes every node still open and removes everything the fixture created. */
  cleanup(): Promise<void>;
}

/**
 * What a test asks of the fixture: the same flags as the suite's capabilities. `restartableBackend: true` means
 * the test restarts the backend, so the fixture must provide `restartBackend` (e.g. on a private Redis server).
 */
export type FixtureRequirements = BusCapabilities;

const WAIT = { timeout: 5_000, interval: 10 } as const;
type Appended = Envelope & { id: string };
const HISTORY: HistoryOptions = { maxLength: 1_000, maxAgeMs: 60_000 };

interface Collector<T> {
  messages: Envelope<T>[];
  handler: MessageHandler<T>;
  data(): T[];
  seqs(): number[];
}

function collect<T = unknown>(): Collector<T> {
  const messages: Envelope<T>[] = [];
  return {
    messages,
    handler: (message) => {
      messages.push(message);
    },
    data: () => messages.map((m) => m.data),
    seqs: () => messages.map((m) => idOf(m.id).seq),
  };
}

function idOf(id: string | undefined): MessageId {
  const parsed = id === undefined ? undefined : parseMessageId(id);
  if (parsed === undefined) {
    throw new Error(`expected a message id, got ${String(id)}`);
  }
  return parsed;
}

function range(from: number, toExclusive: number): number[] {
  return Array.from({ length: Math.max(0, toExclusive - from) }, (_, i) => from + i);
}

async function expectCode(promise: Promise<unknown>, code: GatewayError['code']): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  expect((error as GatewayError).code).toBe(code);
}

/** Yields to the event loop so concurrent work (network replies, timers) can interleave. */
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What an implementation's backend can do beyond the common contract. */
export interface BusCapabilities {
  /**
   * The fixture can stop and restart the backend (`restartBackend`): registers the restart tests. The memory
   * bus has no backend to restart, so its suite simply has no such test (rather than a skipped one).
   */
  restartableBackend: boolean;
}

/** Registers the contract suite. `fixture` is called once per test (its `cleanup` runs after the test). */
export function runBusContract(
  name: string,
  fixture: (requirements: FixtureRequirements) => Promise<BusClusterFixture>,
  capabilities: BusCapabilities,
): void {
  describe(`bus contract: ${name}`, () => {
    let cluster: BusClusterFixture | undefined;

    async function setup(restartableBackend = false): Promise<BusClusterFixture> {
      cluster = await fixture({ restartableBackend });
      return cluster;
    }

    afterEach(async () => {
      const current = cluster;
      cluster = undefined;
      await current?.cleanup();
    });

    describe('live pub/sub', () => {
      it('keeps per-topic order for many messages published concurrently from another node', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const t = collect<number>();
        const u = collect<number>();
        await a.subscribe('order.t', t.handler);
        await a.subscribe('order.u', u.handler);
        const sends: Promise<void>[] = [];
        for (let i = 0; i < 1_000; i += 1) {
          sends.push(b.publish('order.t', i));
          if (i % 3 === 0) {
            sends.push(b.publish('order.u', i));
          }
        }
        await Promise.all(sends);
        await vi.waitFor(() => {
          expect(t.messages).toHaveLength(1_000);
        }, WAIT);
        await vi.waitFor(() => {
          expect(u.messages).toHaveLength(334);
        }, WAIT);
        expect(t.data()).toEqual(range(0, 1_000));
        expect(u.data()).toEqual(range(0, 1_000).filter((i) => i % 3 === 0));
        const first = t.messages[0]!;
        expect(first.topic).toBe('order.t');
        expect(typeof first.publishedAt).toBe('number');
        expect(Math.abs(Date.now() - first.publishedAt)).toBeLessThan(60_000);
        expect(first.id).toBeUndefined();
      });

      it('fans out to every subscriber on every node, once each', async () => {
        const c = await setup();
        const [a, b, d] = [await c.createNode(), await c.createNode(), await c.createNode()];
        const receivers = [collect(), collect(), collect(), collect()] as const;
        await a.subscribe('fan.t', receivers[0].handler);
        await a.subscribe('fan.t', receivers[1].handler);
        await b.subscribe('fan.t', receivers[2].handler);
        await d.subscribe('fan.*', receivers[3].handler);
        for (let i = 0; i < 5; i += 1) {
          await d.publish('fan.t', i);
        }
        // Per-topic order: once the sentinel is in, a duplicate would have arrived before it.
        await d.publish('fan.t', 'end');
        for (const r of receivers) {
          await vi.waitFor(() => {
            expect(r.data().at(-1)).toBe('end');
          }, WAIT);
          expect(r.data()).toEqual([0, 1, 2, 3, 4, 'end']);
        }
      });

      it('unsubscribe stops delivery to that handler only, is idempotent, and a topic can be re-subscribed', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const first = collect();
        const second = collect();
        const s1 = await a.subscribe('unsub.t', first.handler);
        const s2 = await a.subscribe('unsub.t', second.handler);
        await b.publish('unsub.t', 1);
        await vi.waitFor(() => {
          expect(first.messages).toHaveLength(1);
          expect(second.messages).toHaveLength(1);
        }, WAIT);
        await s1.unsubscribe();
        await s1.unsubscribe();
        await b.publish('unsub.t', 2);
        await vi.waitFor(() => {
          expect(second.data()).toEqual([1, 2]);
        }, WAIT);
        expect(first.data()).toEqual([1]);
        await s2.unsubscribe();
        const third = collect();
        await a.subscribe('unsub.t', third.handler);
        await b.publish('unsub.t', 3);
        await vi.waitFor(() => {
          expect(third.data()).toEqual([3]);
        }, WAIT);
        expect(second.data()).toEqual([1, 2]);
      });

      it('prefix patterns match by prefix; an exact and a pattern subscription each get the message once', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const quotes = collect();
        const everything = collect();
        const exact = collect();
        await a.subscribe('stock.quote.*', quotes.handler);
        await a.subscribe('*', everything.handler);
        await a.subscribe('stock.quote.600519', exact.handler);
        const topics = ['stock.quote.600519', 'stock.trade.1', 'stock.quote', 'stock.quotes.x', 'stock.quote.000001'];
        for (const topic of topics) {
          await b.publish(topic, topic);
        }
        await b.publish('stock.quote.zzz', 'end');
        await vi.waitFor(() => {
          expect(quotes.data().at(-1)).toBe('end');
          expect(everything.data().at(-1)).toBe('end');
        }, WAIT);
        expect(quotes.data()).toEqual(['stock.quote.600519', 'stock.quote.000001', 'end']);
        expect(everything.data()).toEqual([...topics, 'end']);
        expect(exact.data()).toEqual(['stock.quote.600519']);
        expect(quotes.messages.map((m) => m.topic)).toEqual(['stock.quote.600519', 'stock.quote.000001', 'stock.quote.zzz']);
      });

      it('rejects malformed topics and patterns with bad_request', async () => {
        const c = await setup();
        const a = await c.createNode();
        const noop = (): void => undefined;
        await expectCode(a.subscribe('a*b', noop), 'bad_request');
        await expectCode(a.subscribe('', noop), 'bad_request');
        await expectCode(a.subscribe('stock.*', noop, { withLatest: true }), 'bad_request');
        await expectCode(a.publish('', 1), 'bad_request');
        await expectCode(a.publish('has space', 1), 'bad_request');
        await expectCode(a.publish('~reserved', 1), 'bad_request');
        await expectCode(a.publishLatest('x*', 1), 'bad_request');
        await expectCode(a.append('x?', 1, HISTORY), 'bad_request');
        await expectCode(a.append('ok.topic', 1, { maxLength: 0, maxAgeMs: 1_000 }), 'bad_request');
      });

      it('keeps delivering to other handlers when one throws', async () => {
        const c = await setup();
        const reported: unknown[] = [];
        const [a, b] = [await c.createNode({ onError: (error) => reported.push(error) }), await c.createNode()];
        const good = collect();
        const bug = new Error('handler bug');
        await a.subscribe('throw.t', () => {
          throw bug;
        });
        await a.subscribe('throw.t', good.handler);
        await b.publish('throw.t', 1);
        await b.publish('throw.t', 2);
        await vi.waitFor(() => {
          expect(good.data()).toEqual([1, 2]);
        }, WAIT);
        expect(reported).toEqual([bug, bug]);
      });
    });

    describe('latest values', () => {
      it('publishLatest stores and publishes atomically; latest and latestMany read it', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const live = collect<{ v: number }>();
        await b.subscribe('lv.a', live.handler);
        expect(await b.latest('lv.a')).toBeUndefined();
        const e1 = await a.publishLatest('lv.a', { v: 1 });
        const id1 = idOf(e1.id);
        expect(e1).toMatchObject({ topic: 'lv.a', data: { v: 1 } });
        const e2 = await a.publishLatest('lv.a', { v: 2 });
        const id2 = idOf(e2.id);
        expect(id2.epoch).toBe(id1.epoch);
        expect(id2.seq).toBe(id1.seq + 1);
        await vi.waitFor(() => {
          expect(live.messages.map((m) => m.id)).toEqual([e1.id, e2.id]);
        }, WAIT);
        expect(live.data()).toEqual([{ v: 1 }, { v: 2 }]);
        const stored = await b.latest<{ v: number }>('lv.a');
        expect(stored).toEqual({ topic: 'lv.a', data: { v: 2 }, publishedAt: e2.publishedAt, id: e2.id });
        const many = await b.latestMany<{ v: number }>(['lv.a', 'lv.none', 'lv.a']);
        expect(many.map((e) => e?.id)).toEqual([e2.id, undefined, e2.id]);
        expect(await b.latestMany([])).toEqual([]);
      });

      it('withLatest delivers the current value first, then live messages', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const e1 = await a.publishLatest('wl.t', 1);
        const got = collect<number>();
        await b.subscribe('wl.t', got.handler, { withLatest: true });
        await vi.waitFor(() => {
          expect(got.data()).toEqual([1]);
        }, WAIT);
        expect(got.messages[0]!.id).toBe(e1.id);
        await a.publishLatest('wl.t', 2);
        await a.publish('wl.t', 3);
        await vi.waitFor(() => {
          expect(got.data()).toEqual([1, 2, 3]);
        }, WAIT);
        const empty = collect<number>();
        await b.subscribe('wl.none', empty.handler, { withLatest: true });
        await a.publishLatest('wl.none', 9);
        await vi.waitFor(() => {
          expect(empty.data()).toEqual([9]);
        }, WAIT);
      });

      it('withLatest never duplicates or goes backwards while live messages race it', async () => {
        const c = await setup();
        const [a, b, d] = [await c.createNode(), await c.createNode(), await c.createNode()];
        const total = 300;
        const subscribers: Collector<number>[] = [];
        let last = '';
        const publishing = (async () => {
          for (let i = 0; i < total; i += 10) {
            const burst = await Promise.all(range(i, i + 10).map((n) => a.publishLatest('race.t', n)));
            last = burst.at(-1)!.id!;
          }
        })();
        for (let i = 0; i < 20; i += 1) {
          const s = collect<number>();
          subscribers.push(s);
          await (i % 2 === 0 ? b : d).subscribe('race.t', s.handler, { withLatest: true });
          await tick();
        }
        await publishing;
        const final = await a.latest<number>('race.t');
        expect(final?.id).toBe(last);
        for (const s of subscribers) {
          await vi.waitFor(() => {
            expect(s.messages.at(-1)?.id).toBe(last);
          }, WAIT);
          const seqs = s.seqs();
          for (let i = 1; i < seqs.length; i += 1) {
            expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
          }
        }
      });
    });

    describe('history', () => {
      it('append assigns consecutive ids; readSince returns what followed, oldest first', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const live = collect<number>();
        await b.subscribe('h.t', live.handler);
        const appended: Appended[] = [];
        for (let i = 0; i < 5; i += 1) {
          appended.push(await a.append('h.t', i, HISTORY));
        }
        const ids = appended.map((e) => idOf(e.id));
        for (let i = 1; i < ids.length; i += 1) {
          expect(ids[i]!.epoch).toBe(ids[0]!.epoch);
          expect(ids[i]!.seq).toBe(ids[i - 1]!.seq + 1);
        }
        expect(appended[0]).toMatchObject({ topic: 'h.t', data: 0 });
        await vi.waitFor(() => {
          expect(live.messages.map((m) => m.id)).toEqual(appended.map((e) => e.id));
        }, WAIT);
        const lastId = appended[4]!.id;
        expect(await b.position('h.t')).toBe(lastId);
        const read = await b.readSince<number>('h.t', appended[1]!.id);
        expect(read).toMatchObject({ recovered: true, position: lastId });
        expect(read.messages.map((m) => m.data)).toEqual([2, 3, 4]);
        expect(read.messages.map((m) => m.id)).toEqual(appended.slice(2).map((e) => e.id));
        expect(read.messages[0]).toMatchObject({ topic: 'h.t', publishedAt: appended[2]!.publishedAt });
        expect(await b.readSince('h.t', lastId)).toEqual({ recovered: true, messages: [], position: lastId });
      });

      it('append keeps the publishedAt it is given, live and in history; without one it is the append time', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const live = collect<string>();
        await b.subscribe('hp.t', live.handler);
        // An hour ago: older than HISTORY.maxAgeMs, which counts from the append, not from publishedAt.
        const arrivedAt = Date.now() - 3_600_000;
        const given = await a.append('hp.t', 'given', { ...HISTORY, publishedAt: arrivedAt });
        expect(given.publishedAt).toBe(arrivedAt);
        const before = Date.now();
        const defaulted = await a.append('hp.t', 'defaulted', HISTORY);
        const after = Date.now();
        expect(defaulted.publishedAt).toBeGreaterThanOrEqual(before);
        expect(defaulted.publishedAt).toBeLessThanOrEqual(after);
        await vi.waitFor(() => {
          expect(live.data()).toEqual(['given', 'defaulted']);
        }, WAIT);
        expect(live.messages.map((m) => m.publishedAt)).toEqual([arrivedAt, defaulted.publishedAt]);
        const read = await b.readSince<string>('hp.t', formatMessageId(idOf(given.id).epoch, 0));
        expect(read.recovered).toBe(true);
        expect(read.messages.map((m) => [m.data, m.publishedAt])).toEqual([
          ['given', arrivedAt],
          ['defaulted', defaulted.publishedAt],
        ]);
      });

      it('rejects a publishedAt that is not epoch milliseconds with bad_request, appending nothing', async () => {
        const c = await setup();
        const a = await c.createNode();
        for (const publishedAt of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
          await expectCode(a.append('hpx.t', 'bad', { ...HISTORY, publishedAt }), 'bad_request');
        }
        expect(await a.position('hpx.t')).toBeUndefined();
        // The node still works (a loop bus's connection to its host survived the refusal).
        const appended = await a.append('hpx.t', 'good', { ...HISTORY, publishedAt: 0 });
        expect(appended).toMatchObject({ data: 'good', publishedAt: 0 });
        expect(await a.position('hpx.t')).toBe(appended.id);
      });

      it('keeps at most maxLength messages and reports what was trimmed', async () => {
        const c = await setup();
        const a = await c.createNode();
        const options = { maxLength: 4, maxAgeMs: 60_000 };
        const appended: Appended[] = [];
        for (let i = 0; i < 10; i += 1) {
          appended.push(await a.append('hl.t', i, options));
        }
        const epoch = idOf(appended[0]!.id).epoch;
        const all = await a.readSince<number>('hl.t', formatMessageId(epoch, 0));
        expect(all).toMatchObject({ recovered: false, reason: 'too_old', missedFrom: formatMessageId(epoch, 1) });
        expect(all.messages.map((m) => m.data)).toEqual([6, 7, 8, 9]);
        const justInside = await a.readSince<number>('hl.t', appended[5]!.id);
        expect(justInside.recovered).toBe(true);
        expect(justInside.messages.map((m) => m.data)).toEqual([6, 7, 8, 9]);
        const justOutside = await a.readSince<number>('hl.t', appended[4]!.id);
        expect(justOutside).toMatchObject({
          recovered: false,
          reason: 'too_old',
          missedFrom: formatMessageId(epoch, idOf(appended[4]!.id).seq + 1),
          position: appended[9]!.id,
        });
        expect(justOutside.messages.map((m) => m.data)).toEqual([6, 7, 8, 9]);
      });

      it('drops messages older than maxAgeMs', async () => {
        const c = await setup();
        const a = await c.createNode();
        const options = { maxLength: 100, maxAgeMs: 250 };
        const appended: Appended[] = [];
        for (let i = 0; i < 3; i += 1) {
          appended.push(await a.append('ha.t', i, options));
        }
        const epoch = idOf(appended[0]!.id).epoch;
        const start = formatMessageId(epoch, 0);
        expect((await a.readSince('ha.t', start)).messages).toHaveLength(3);
        await vi.waitFor(
          async () => {
            const read = await a.readSince('ha.t', start);
            expect(read).toMatchObject({ recovered: false, reason: 'too_old', messages: [] });
          },
          { timeout: 3_000, interval: 50 },
        );
        const fourth = await a.append('ha.t', 3, options);
        const afterThird = await a.readSince<number>('ha.t', appended[2]!.id);
        expect(afterThird.recovered).toBe(true);
        expect(afterThird.messages.map((m) => m.id)).toEqual([fourth.id]);
        const fromStart = await a.readSince<number>('ha.t', start);
        expect(fromStart).toMatchObject({ recovered: false, reason: 'too_old', missedFrom: formatMessageId(epoch, 1) });
        expect(fromStart.messages.map((m) => m.data)).toEqual([3]);
      });

      it('reports malformed and future ids as invalid_id and ids of another epoch as epoch_changed', async () => {
        const c = await setup();
        const a = await c.createNode();
        const appended: Appended[] = [];
        for (let i = 0; i < 3; i += 1) {
          appended.push(await a.append('hi.t', i, HISTORY));
        }
        const { epoch, seq } = idOf(appended[2]!.id);
        const position = appended[2]!.id;
        for (const since of ['garbage', '', ':1', `${epoch}:-1`, `${epoch}:1.5`, formatMessageId(epoch, seq + 1)]) {
          const read = await a.readSince<number>('hi.t', since);
          expect(read).toMatchObject({
            recovered: false,
            reason: 'invalid_id',
            missedFrom: formatMessageId(epoch, 1),
            position,
          });
          expect(read.messages.map((m) => m.data)).toEqual([0, 1, 2]);
        }
        const otherEpoch = epoch === 'zzzzzzzz' ? 'yyyyyyyy' : 'zzzzzzzz';
        const other = await a.readSince<number>('hi.t', formatMessageId(otherEpoch, 1));
        expect(other).toMatchObject({
          recovered: false,
          reason: 'epoch_changed',
          missedFrom: formatMessageId(epoch, 1),
          position,
        });
        expect(other.messages.map((m) => m.data)).toEqual([0, 1, 2]);
      });

      it('reads an id that names another message than the caller saw (sincePublishedAt) as invalid_id, while history holds it', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const appended: Appended[] = [];
        for (let i = 0; i < 4; i += 1) {
          appended.push(await a.append('hd.t', i, { maxLength: 3, maxAgeMs: 60_000 }));
        }
        const { epoch } = idOf(appended[0]!.id);
        const position = appended[3]!.id;
        const [trimmed, , kept] = appended as [Appended, Appended, Appended, Appended];
        // The message the caller had: an ordinary read.
        const same = await b.readSince<number>('hd.t', kept.id, { sincePublishedAt: kept.publishedAt });
        expect(same).toMatchObject({ recovered: true, position });
        expect(same.messages.map((m) => m.data)).toEqual([3]);
        // Another message at that id (a failover gave the id again): the caller's position is not in this history.
        const other = await b.readSince<number>('hd.t', kept.id, { sincePublishedAt: kept.publishedAt + 1 });
        expect(other).toMatchObject({ recovered: false, reason: 'invalid_id', missedFrom: formatMessageId(epoch, 1), position });
        expect(other.messages.map((m) => m.data)).toEqual([1, 2, 3]);
        // Once the message at that id is trimmed, only the id is compared.
        const gone = await b.readSince<number>('hd.t', trimmed.id, { sincePublishedAt: trimmed.publishedAt + 1 });
        expect(gone).toMatchObject({ recovered: true, position });
        expect(gone.messages.map((m) => m.data)).toEqual([1, 2, 3]);
      });

      it('a topic without history has no position; the position readSince returns stays valid', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        expect(await a.position('fresh.t')).toBeUndefined();
        const read = await a.readSince('fresh.t', 'oldepoch:5');
        expect(read).toMatchObject({ recovered: false, reason: 'epoch_changed', messages: [] });
        const position = idOf(read.position);
        expect(position.seq).toBe(0);
        const appended = await b.append('fresh.t', 'first', HISTORY);
        expect(idOf(appended.id)).toEqual({ epoch: position.epoch, seq: 1 });
        const next = await a.readSince('fresh.t', read.position);
        expect(next.recovered).toBe(true);
        expect(next.messages.map((m) => m.id)).toEqual([appended.id]);
      });
    });

    describe('interest', () => {
      it('is visible cluster-wide and ref-counted per node; release is idempotent', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const changes: InterestChange[] = [];
        await b.watchInterest('int.', (change) => changes.push(change));
        const l1 = await a.declareInterest('int.a');
        const l2 = await a.declareInterest('int.a');
        expect(await b.interestedTopics('int.')).toEqual(['int.a']);
        expect(await b.interestedTopics('')).toContain('int.a');
        expect(await b.interestedTopics('other.')).toEqual([]);
        await l1.release();
        await l1.release();
        expect(await b.interestedTopics('int.')).toEqual(['int.a']);
        await l2.release();
        await vi.waitFor(() => {
          expect(changes).toEqual([
            { topic: 'int.a', interested: true },
            { topic: 'int.a', interested: false },
          ]);
        }, WAIT);
        expect(await b.interestedTopics('int.')).toEqual([]);
      });

      it('watchers see the first subscriber appear and the last one leave, across nodes, by prefix', async () => {
        const c = await setup();
        const [a, b, w] = [await c.createNode(), await c.createNode(), await c.createNode()];
        const changes: InterestChange[] = [];
        const other: InterestChange[] = [];
        const watch = await w.watchInterest('wi.', (change) => changes.push(change));
        await w.watchInterest('zz.', (change) => other.push(change));
        const la = await a.declareInterest('wi.1');
        await vi.waitFor(() => {
          expect(changes).toEqual([{ topic: 'wi.1', interested: true }]);
        }, WAIT);
        const lb = await b.declareInterest('wi.1');
        const lOther = await b.declareInterest('elsewhere.1');
        await la.release();
        expect(await w.interestedTopics('wi.')).toEqual(['wi.1']);
        await lb.release();
        await vi.waitFor(() => {
          expect(changes).toHaveLength(2);
        }, WAIT);
        expect(changes).toEqual([
          { topic: 'wi.1', interested: true },
          { topic: 'wi.1', interested: false },
        ]);
        await watch.unsubscribe();
        await lOther.release();
        const lz = await a.declareInterest('zz.1');
        await vi.waitFor(() => {
          expect(other).toEqual([{ topic: 'zz.1', interested: true }]);
        }, WAIT);
        await a.declareInterest('wi.2');
        await lz.release();
        await vi.waitFor(() => {
          expect(other).toHaveLength(2);
        }, WAIT);
        // The unsubscribed watcher missed wi.2 (its notice came before zz.1's release on the same path).
        expect(changes).toHaveLength(2);
      });

      it('expires the interest of a crashed node, while a live node keeps its own', async () => {
        const c = await setup();
        const ttl = 400;
        const [a, b, w] = [
          await c.createNode({ interestTtlMs: ttl }),
          await c.createNode({ interestTtlMs: ttl }),
          await c.createNode({ interestTtlMs: ttl }),
        ];
        const changes: InterestChange[] = [];
        await w.watchInterest('exp.', (change) => changes.push(change));
        await a.declareInterest('exp.1');
        await b.declareInterest('exp.2');
        await vi.waitFor(() => {
          expect(changes).toHaveLength(2);
        }, WAIT);
        const crashedAt = Date.now();
        await c.crashNode(a);
        await vi.waitFor(() => {
          expect(changes).toContainEqual({ topic: 'exp.1', interested: false });
        }, WAIT);
        // Expiry, not an eager release: at least the TTL minus one refresh period (and timer slack) passed.
        expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(ttl / 2);
        expect(await w.interestedTopics('exp.')).toEqual(['exp.2']);
        expect(changes).not.toContainEqual({ topic: 'exp.2', interested: false });
      });
    });

    describe('connection', () => {
      it('reports state and identity', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        expect(a.state).toBe('connected');
        expect(['memory', 'redis']).toContain(a.kind);
        expect(a.nodeId).not.toBe('');
        expect(a.nodeId).not.toBe(b.nodeId);
        const states: string[] = [];
        const off = a.onStateChange((state) => states.push(state));
        off();
        await a.close();
        expect(states).toEqual([]);
      });

      it('close() releases interest at once, stops delivery, and rejects later calls', async () => {
        const c = await setup();
        const [a, b] = [await c.createNode(), await c.createNode()];
        const changes: InterestChange[] = [];
        await b.watchInterest('cl.', (change) => changes.push(change));
        await a.declareInterest('cl.1');
        const closedNode = collect();
        const witness = collect();
        await a.subscribe('cl.t', closedNode.handler);
        await b.subscribe('cl.t', witness.handler);
        await vi.waitFor(() => {
          expect(changes).toEqual([{ topic: 'cl.1', interested: true }]);
        }, WAIT);
        const states: string[] = [];
        a.onStateChange((state) => states.push(state));
        await a.close();
        await a.close();
        expect(a.state).toBe('disconnected');
        expect(states).toEqual(['disconnected']);
        await vi.waitFor(() => {
          expect(changes).toEqual([
            { topic: 'cl.1', interested: true },
            { topic: 'cl.1', interested: false },
          ]);
        }, { timeout: 3_000, interval: 10 });
        expect(await b.interestedTopics('cl.')).toEqual([]);
        await b.publish('cl.t', 1);
        await vi.waitFor(() => {
          expect(witness.data()).toEqual([1]);
        }, WAIT);
        expect(closedNode.messages).toEqual([]);
        await expectCode(a.publish('cl.t', 2), 'bus_unavailable');
        await expectCode(a.subscribe('cl.t', closedNode.handler), 'bus_unavailable');
        await expectCode(a.latest('cl.t'), 'bus_unavailable');
        await expectCode(a.append('cl.h', 1, HISTORY), 'bus_unavailable');
      });
    });

    // Registered only where the backend can restart: the memory bus has no such test rather than a skipped one.
    if (capabilities.restartableBackend) {
      describe('backend restart', () => {
        it('fails fast while down, then restores subscriptions and interest after the restart', async () => {
          const c = await setup(true);
          const restart = c.restartBackend;
          if (restart === undefined) {
            throw new Error('a fixture with restartableBackend must provide restartBackend');
          }
          const [a, b] = [await c.createNode(), await c.createNode()];
          const exact = collect<number>();
          const pattern = collect<number>();
          await a.subscribe('rs.t', exact.handler);
          await a.subscribe('rs.*', pattern.handler);
          await a.declareInterest('rs.i');
          const before = await b.append('rs.h', 0, HISTORY);
          const states: string[] = [];
          a.onStateChange((state) => states.push(state));
          await restart(async () => {
            await vi.waitFor(() => {
              expect(a.state).toBe('disconnected');
              expect(b.state).toBe('disconnected');
            }, WAIT);
            const startedAt = Date.now();
            await expectCode(a.publish('rs.t', 1), 'bus_unavailable');
            await expectCode(b.publishLatest('rs.l', 1), 'bus_unavailable');
            await expectCode(b.append('rs.h', 1, HISTORY), 'bus_unavailable');
            await expectCode(b.subscribe('rs.x', () => undefined), 'bus_unavailable');
            expect(Date.now() - startedAt).toBeLessThan(1_000);
          });
          await vi.waitFor(() => {
            expect(a.state).toBe('connected');
            expect(b.state).toBe('connected');
          }, WAIT);
          expect(states[0]).toBe('disconnected');
          expect(states.at(-1)).toBe('connected');
          await vi.waitFor(async () => {
            await b.publish('rs.t', 2);
            expect(exact.data()).toContain(2);
            expect(pattern.data()).toContain(2);
          }, WAIT);
          await vi.waitFor(async () => {
            expect(await b.interestedTopics('rs.')).toEqual(['rs.i']);
          }, WAIT);
          const read = await b.readSince('rs.h', before.id);
          expect(read).toMatchObject({ recovered: false, reason: 'epoch_changed' });
        });
      });
    }
  });
}
