/**
 * A repeating timer on a fixed grid: `tick` runs at the start plus every multiple of the interval, whatever the
 * event loop's lag. Node's `setInterval` schedules each repetition from the moment the previous one ran, so
 * every late run pushes all later ones back: under 50 ms of lag a 1 s interval runs about 57 times a minute,
 * under 200 ms 50 times. On the grid a late run does not move the next one. After a stall longer than an
 * interval, only the latest overdue point runs, at once: the older ones are skipped, never run in a burst.
 */
export interface GridTimer {
  /** No tick after this call. Idempotent. */
  stop(): void;
}

/**
 * The grid point to wait for after the point `last` ran, and the wait from `now` (all in ms on one monotonic
 * clock): the next point, or, when the loop is past it, the latest point it is past (due at once; the older
 * ones are skipped). A timer that fired a little early (timers run on the loop's cached clock) still moves on
 * to the next point: a point runs once.
 */
export function nextGridPoint(last: number, intervalMs: number, now: number): { point: number; delayMs: number } {
  let point = last + intervalMs;
  if (now > point) {
    point += Math.floor((now - point) / intervalMs) * intervalMs;
  }
  return { point, delayMs: Math.max(0, point - now) };
}

/**
 * Runs `tick` every `intervalMs` on a grid that starts now (first tick one interval from now). The timer does
 * not keep the process alive.
 */
export function everyOnGrid(intervalMs: number, tick: () => void): GridTimer {
  if (!(intervalMs > 0)) {
    throw new RangeError(`everyOnGrid: the interval must be positive, got ${String(intervalMs)}`);
  }
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (last: number): void => {
    const { point, delayMs } = nextGridPoint(last, intervalMs, performance.now());
    timer = setTimeout(() => {
      if (stopped) {
        return;
      }
      // The next point is set before the tick runs: a tick that throws does not stop the timer (its error is
      // the caller's to catch: thrown here it is an uncaught exception).
      arm(point);
      tick();
    }, delayMs);
    timer.unref();
  };
  arm(performance.now());
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
