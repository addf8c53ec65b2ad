import type { BusConnection } from '@gw/bus';

/**
 * Calls `onReturn` each time `bus` is `connected` again after it was not: after a Redis outage or restart,
 * and at the first connection when the bus was not connected yet at the call. A source that holds latest
 * values publishes them all again then, at once: the bus may have lost them (Redis restarted empty), and a
 * client subscribing now must not wait for the source's next scheduled publish.
 *
 * Listens until the returned function is called or `signal` aborts. `onReturn` runs inside the bus's state
 * listener: it starts the work (a flag, a wake-up, a promise), it does not await it.
 */
export function onBusReturn(bus: BusConnection, onReturn: () => void, signal?: AbortSignal): () => void {
  let lost = bus.state !== 'connected';
  const stopListening = bus.onStateChange((state) => {
    if (state !== 'connected') {
      lost = true;
    } else if (lost) {
      lost = false;
      onReturn();
    }
  });
  const stop = (): void => {
    stopListening();
    signal?.removeEventListener('abort', stop);
  };
  if (signal?.aborted === true) {
    stop();
  } else {
    signal?.addEventListener('abort', stop, { once: true });
  }
  return stop;
}
