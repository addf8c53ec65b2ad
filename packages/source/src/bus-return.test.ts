import { describe, expect, it } from 'vitest';
import type { BusConnection, BusState } from '@gw/bus';
import { onBusReturn } from './index.js';

/** A bus connection whose state the test sets. */
function connection(initial: BusState): BusConnection & { set(state: BusState): void; listeners(): number } {
  let state = initial;
  const listeners = new Set<(state: BusState) => void>();
  return {
    get state() {
      return state;
    },
    onStateChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => Promise.resolve(),
    set(next) {
      state = next;
      for (const listener of listeners) {
        listener(next);
      }
    },
    listeners: () => listeners.size,
  };
}

describe('onBusReturn', () => {
  it('calls back each time the bus is connected again after it was not, never while it stays connected', () => {
    const bus = connection('connected');
    let returns = 0;
    onBusReturn(bus, () => (returns += 1));
    bus.set('connected');
    expect(returns).toBe(0);
    bus.set('disconnected');
    bus.set('disconnected');
    expect(returns).toBe(0);
    bus.set('connected');
    expect(returns).toBe(1);
    bus.set('connected');
    expect(returns).toBe(1);
    bus.set('disconnected');
    bus.set('connected');
    expect(returns).toBe(2);
  });

  it('counts the first connection of a bus that was not connected yet as a return', () => {
    const bus = connection('disconnected');
    let returns = 0;
    onBusReturn(bus, () => (returns += 1));
    bus.set('connected');
    expect(returns).toBe(1);
  });

  it('stops listening when stopped or when its signal aborts', () => {
    const bus = connection('connected');
    let returns = 0;
    const stop = onBusReturn(bus, () => (returns += 1));
    const abort = new AbortController();
    onBusReturn(bus, () => (returns += 10), abort.signal);
    expect(bus.listeners()).toBe(2);
    stop();
    abort.abort();
    expect(bus.listeners()).toBe(0);
    bus.set('disconnected');
    bus.set('connected');
    expect(returns).toBe(0);
    onBusReturn(bus, () => (returns += 1), abort.signal);
    expect(bus.listeners()).toBe(0);
  });
});
