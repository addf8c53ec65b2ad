import { describe, expect, it } from 'vitest';
import { PollWheel } from './wheel.js';
import type { WheelEntry } from './wheel.js';

/** An entry that records its firings and resolves `next` at each one. */
function entry(name: string, log: string[]): WheelEntry & { fired: Promise<number> } {
  let resolve: (slotTime: number) => void = () => undefined;
  const fired = new Promise<number>((r) => {
    resolve = r;
  });
  return {
    wheelSlot: -1,
    fired,
    fire(slotTime) {
      log.push(name);
      resolve(slotTime);
    },
  };
}

describe('PollWheel', () => {
  it('fires entries due in the same slot together, in due order, never before they are due', async () => {
    const wheel = new PollWheel(20);
    const log: string[] = [];
    const now = Date.now();
    // Two due times inside one slot (the slot ending at `end`), and one three slots later.
    const end = Math.ceil((now + 1) / 20) * 20;
    const late = entry('late', log);
    const a = entry('a', log);
    const b = entry('b', log);
    wheel.schedule(late, end + 60);
    wheel.schedule(a, end - 5);
    wheel.schedule(b, end);
    const slotTime = await b.fired;
    expect(await a.fired).toBe(slotTime);
    expect(slotTime).toBe(end);
    expect(slotTime % 20).toBe(0);
    expect(log).toEqual(['a', 'b']);
    await late.fired;
    expect(Date.now()).toBeGreaterThanOrEqual(end + 60);
    expect(log).toEqual(['a', 'b', 'late']);
    expect(wheel.size).toBe(0);
  });

  it('fires a rescheduled entry once, at its new time, and a cancelled one never', async () => {
    const wheel = new PollWheel(5);
    const log: string[] = [];
    const now = Date.now();
    const moved = entry('moved', log);
    const cancelled = entry('cancelled', log);
    const last = entry('last', log);
    wheel.schedule(moved, now + 1_000);
    wheel.schedule(moved, now + 10);
    wheel.schedule(cancelled, now + 10);
    wheel.cancel(cancelled);
    wheel.schedule(last, now + 40);
    await moved.fired;
    await last.fired;
    expect(log).toEqual(['moved', 'last']);
    // The stale copy of `moved` waits in its old slot until `clear`.
    wheel.clear();
    expect(wheel.size).toBe(0);
  });

  it('runs an entry scheduled in the past at the next turn', async () => {
    const wheel = new PollWheel(25);
    const log: string[] = [];
    const past = entry('past', log);
    wheel.schedule(past, Date.now() - 1_000);
    await past.fired;
    expect(log).toEqual(['past']);
  });
});
