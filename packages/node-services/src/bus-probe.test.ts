import { afterEach, describe, expect, it } from 'vitest';
import type { Bus } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { noopMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import { startBusProbe } from './bus-probe.js';
import type { BusProbe } from './bus-probe.js';

const opened: { bus: Bus; probe: BusProbe }[] = [];

afterEach(async () => {
  for (const { bus, probe } of opened.splice(0)) {
    await probe.stop();
    await bus.close();
  }
});

/** A probe on its own memory bus, recording every value it gives `gateway_bus_lag_seconds`. */
async function probeOnMemoryBus(intervalMs: number): Promise<{ bus: Bus; probe: BusProbe; gauge: number[]; ages: number[] }> {
  const bus = createMemoryBus({ nodeId: `probe-${Math.random().toString(36).slice(2)}` });
  const gauge: number[] = [];
  const ages: number[] = [];
  const metrics: GatewayMetrics = { ...noopMetrics, busLag: (seconds) => gauge.push(seconds), busProbeAge: (seconds) => ages.push(seconds) };
  const probe = await startBusProbe({ bus, metrics, intervalMs, maxLagMs: 10 * intervalMs });
  opened.push({ bus, probe });
  return { bus, probe, gauge, ages };
}

describe('bus probe', () => {
  it('reports the round trip, not the time since the last probe: far below the interval on an idle bus', async () => {
    const intervalMs = 500;
    const { probe, gauge, ages } = await probeOnMemoryBus(intervalMs);
    // The gauge is written at each interval, right before the next probe goes out: the moment the last probe
    // back is oldest. An age would read about one interval there; a round trip on a memory bus reads ~0.
    // Four intervals (the age is written once per interval; the lag also when a slower probe comes back).
    await expect.poll(() => ages.length, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(4);
    for (const seconds of gauge) {
      expect(seconds * 1000).toBeLessThan(intervalMs / 2);
    }
    expect(probe.lagMs()).toBeLessThan(intervalMs / 2);
    expect(probe.healthy()).toBe(true);
    // The age is exported on its own, sampled at the same moments.
    expect(ages.every((seconds) => seconds >= 0 && Number.isFinite(seconds))).toBe(true);
  });

  it('measures receive time minus the send time the probe carries, and lets a slow probe show until faster ones replace it', async () => {
    const { bus, probe, gauge } = await probeOnMemoryBus(200);
    // A probe that spent 5 s on its way (sent 5 s ago by the clock it carries), arriving now.
    await bus.publish(`cluster.probe.${bus.nodeId}`, Date.now() - 5_000);
    expect(probe.lagMs()).toBeGreaterThanOrEqual(5_000);
    expect(gauge.at(-1) ?? 0).toBeGreaterThanOrEqual(5);
    // Later intervals see only fast probes again: the figure comes back down.
    await expect.poll(() => probe.lagMs(), { timeout: 20_000, interval: 20 }).toBeLessThan(5_000);
    expect(probe.healthy()).toBe(true);
  });
});
