import { afterEach, describe, expect, it } from 'vitest';
import type { Bus, BusState, Envelope } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { GatewayError } from '@gw/core';
import { observeBus } from './observed-bus.js';

let inner: Bus | undefined;

afterEach(async () => {
  await inner?.close();
  inner = undefined;
});

function setup() {
  inner = createMemoryBus();
  return { inner, observed: observeBus(inner) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );
}

describe('observeBus', () => {
  it('passes calls through to the inner bus and records them, with each publication as JSON and its outcome', async () => {
    const { inner, observed } = setup();
    const seen: Envelope[] = [];
    await inner.subscribe('t.*', (m) => seen.push(m));
    await observed.bus.publish('t.live', { a: 1 });
    await observed.bus.publishLatest('t.latest', { b: 2 });
    await observed.bus.append('t.history', { c: 3 }, { maxLength: 10, maxAgeMs: 60_000 });
    expect(await observed.bus.latest('t.latest')).toMatchObject({ data: { b: 2 } });
    expect(seen.map((m) => m.topic)).toEqual(['t.live', 't.latest', 't.history']);
    expect(observed.calls.map((c) => `${c.method} ${c.target}`)).toEqual([
      'publish t.live',
      'publishLatest t.latest',
      'append t.history',
      'latest t.latest',
    ]);
    expect(observed.publications.map((p) => [p.method, p.topic, p.json, p.outcome])).toEqual([
      ['publish', 't.live', '{"a":1}', 'delivered'],
      ['publishLatest', 't.latest', '{"b":2}', 'delivered'],
      ['append', 't.history', '{"c":3}', 'delivered'],
    ]);
    // A bad topic is refused by the inner bus: recorded as refused, the error passed on.
    expect(await rejection(observed.bus.publish('bad topic', {}))).toBeInstanceOf(GatewayError);
    expect(observed.publications.at(-1)?.outcome).toBe('refused');
  });

  it('records a payload that JSON cannot carry, and close() without closing the inner bus', async () => {
    const { inner, observed } = setup();
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    await observed.bus.publish('t.x', cyclic);
    expect(observed.publications[0]).toMatchObject({ json: undefined, jsonProblem: expect.stringContaining('the payload is not JSON: Converting circular structure') as string });
    await observed.bus.close();
    expect(inner.state).toBe('connected');
    expect(observed.calls.at(-1)?.method).toBe('close');
  });

  it('simulates an outage: disconnected state, requests refused with bus_unavailable, nothing delivered, interest still declared', async () => {
    const { inner, observed } = setup();
    const states: BusState[] = [];
    const stopListening = observed.bus.onStateChange((state) => states.push(state));
    const received: unknown[] = [];
    await observed.bus.subscribe('in.*', (m) => received.push(m.data));

    observed.setDown(true);
    expect(observed.bus.state).toBe('disconnected');
    for (const request of [
      observed.bus.publishLatest('t.a', {}),
      observed.bus.latest('t.a'),
      observed.bus.subscribe('t.*', () => undefined),
      observed.bus.watchInterest('t.', () => undefined),
    ]) {
      const error = await rejection(request);
      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).code).toBe('bus_unavailable');
    }
    await inner.publish('in.x', 'while down');
    const lease = await observed.bus.declareInterest('t.a');
    expect(await inner.interestedTopics('t.')).toEqual(['t.a']);

    observed.setDown(false);
    await inner.publish('in.x', 'after');
    expect(received).toEqual(['after']);
    expect(states).toEqual(['disconnected', 'connected']);
    expect(observed.publications[0]?.outcome).toBe('refused');

    // Open resources: the subscription and the lease, until released (releasing twice is harmless).
    expect(observed.openResources()).toEqual(['subscription to in.*', 'interest lease on t.a']);
    await lease.release();
    await lease.release();
    expect(observed.openResources()).toEqual(['subscription to in.*']);
    stopListening();
  });

  it('keeps a bounded record, counting what it dropped', async () => {
    const inner = createMemoryBus();
    try {
      const observed = observeBus(inner, { maxRecords: 3 });
      for (let i = 0; i < 5; i += 1) {
        await observed.bus.publish(`t.${i}`, i);
      }
      expect(observed.publications.map((p) => p.topic)).toEqual(['t.2', 't.3', 't.4']);
      expect(observed.calls).toHaveLength(3);
      expect(observed.dropped).toBe(4);
    } finally {
      await inner.close();
    }
  });
});
