// A reconnect storm through the kit's real nginx: three gateways on a private Redis, 1,000 signal clients and
// 300 Socket.IO clients connected through nginx, the gateway holding the Socket.IO clients (and a third of the
// signal clients) SIGKILLed while signals are published at a steady rate. Every client of that gateway comes
// back through nginx to the others, signal clients recover with `?since=` without a gap or a duplicate, and the
// clients of the surviving gateways are never disturbed. Full scale: bench/src/storm.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { stopAll } from './support/processes.js';
import { runReconnectStorm } from './support/storm.js';

afterAll(async () => {
  await stopAll();
});

describe('reconnect storm through nginx', () => {
  it('a gateway SIGKILLed under 1,000 signal + 300 Socket.IO clients: all back, no signal lost, survivors undisturbed', async () => {
    const result = await runReconnectStorm({
      signalClients: 1_000,
      socketIoClients: 300,
      gateways: 3,
      publishPerSecond: 10,
      reconnectJitterMs: 1_000,
      reconnectDeadlineMs: 60_000,
      log: (line) => {
        console.info(`[storm] ${line}`);
      },
    });
    console.info(
      `[storm] ${result.signals.onVictim} signal + ${result.socketIo.onVictim} Socket.IO clients of ${result.victim} back in ` +
        `${result.secondsToAllBack.toFixed(2)} s (half in ${result.secondsToHalfBack.toFixed(2)} s; signal clients ${result.signals.secondsToAllBack.toFixed(2)} s, ` +
        `Socket.IO ${result.socketIo.secondsToAllBack.toFixed(2)} s); ${result.published} signals published; ` +
        `before ${JSON.stringify(result.before)}, after ${JSON.stringify(result.after)}`,
    );
    // The killed gateway had its share of the clients: the storm is real.
    expect(result.socketIo.onVictim).toBe(300);
    expect(result.signals.onVictim).toBeGreaterThan(200);
    // Exactly the victim's clients dropped, once each; every client of the surviving gateways stayed connected.
    expect(result.signals.dropped).toBe(result.signals.onVictim);
    expect(result.socketIo.dropped).toBe(result.socketIo.onVictim);
    expect(result.signals.droppedTwice).toBe(0);
    expect(result.socketIo.droppedTwice).toBe(0);
    // All back, on the survivors.
    expect(result.signals.openAtEnd).toBe(1_000);
    expect(result.socketIo.openAtEnd).toBe(300);
    expect(Object.values(result.after).reduce((a, b) => a + b, 0)).toBe(1_300);
    // Every signal client holds every published id, in order, once; every recovery was complete.
    expect(result.signals.examples).toEqual([]);
    expect(result.signals.wrongSequence).toBe(0);
    expect(result.signals.notRecovered).toBe(0);
    expect(result.published).toBeGreaterThan(10);
    // Publishing went on through the storm: every publish was answered.
    expect(result.publishFailures).toBe(0);
  }, 240_000);
});
