import { describe, expect, it } from 'vitest';
import { everyOnGrid, nextGridPoint } from './grid-timer.js';

describe('nextGridPoint', () => {
  it('keeps the grid whatever the lag of the run before', () => {
    // On time, then late by 30 ms and by 999 ms: the next point stays on the grid.
    expect(nextGridPoint(1000, 1000, 1000)).toEqual({ point: 2000, delayMs: 1000 });
    expect(nextGridPoint(1000, 1000, 1030)).toEqual({ point: 2000, delayMs: 970 });
    expect(nextGridPoint(1000, 1000, 1999)).toEqual({ point: 2000, delayMs: 1 });
  });

  it('after a stall runs the latest overdue point at once and skips the older ones', () => {
    expect(nextGridPoint(1000, 1000, 2000)).toEqual({ point: 2000, delayMs: 0 });
    expect(nextGridPoint(1000, 1000, 2500)).toEqual({ point: 2000, delayMs: 0 });
    expect(nextGridPoint(1000, 1000, 4700)).toEqual({ point: 4000, delayMs: 0 });
    // And the grid goes on from there.
    expect(nextGridPoint(4000, 1000, 4701)).toEqual({ point: 5000, delayMs: 299 });
  });

  it('moves on to the next point after a timer that fired a little early', () => {
    expect(nextGridPoint(2000, 1000, 1998)).toEqual({ point: 3000, delayMs: 1002 });
  });
});

describe('everyOnGrid', () => {
  it('ticks until stopped, and refuses an interval that is not positive', async () => {
    let ticks = 0;
    let reached: () => void = () => undefined;
    const threeTicks = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const timer = everyOnGrid(5, () => {
      ticks += 1;
      if (ticks === 3) {
        reached();
      }
    });
    await threeTicks;
    timer.stop();
    timer.stop();
    const stoppedAt = ticks;
    // A timer set after the stop fires after any the grid timer had set for its next points (two of them).
    await new Promise((resolve) => setTimeout(resolve, 12));
    expect(ticks).toBe(stoppedAt);
    expect(() => everyOnGrid(0, () => undefined)).toThrow(RangeError);
  });
});
