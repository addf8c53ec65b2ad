import { readFileSync } from 'node:fs';

/** CPU time and memory of one process, read from /proc (Linux). */
export interface ProcSample {
  /** User-mode CPU seconds since the process started. */
  userS: number;
  /** Kernel-mode CPU seconds (socket writes, epoll) since the process started. */
  systemS: number;
  /** Resident set size, KiB. */
  rssKb: number;
}

const CLOCK_TICKS_PER_S = 100;

/**
 * Samples `/proc/<pid>/stat` and `/proc/<pid>/status`. Returns undefined when the process is gone.
 * Clock ticks are assumed to be 100 per second (USER_HZ on every Linux architecture Node supports).
 */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const userTicks = Number(fields[11]);
    const systemTicks = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return {
      userS: userTicks / CLOCK_TICKS_PER_S,
      systemS: systemTicks / CLOCK_TICKS_PER_S,
      rssKb: rss?.[1] === undefined ? 0 : Number(rss[1]),
    };
  } catch {
    return undefined;
  }
}

/** RSS samples of a process taken at a fixed period, to see whether memory settles or keeps growing. */
export class RssRecorder {
  readonly samples: { atS: number; rssKb: number }[] = [];
  readonly #pid: number;
  readonly #startedAt = performance.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(pid: number, periodMs: number, maxSamples = 3_600) {
    this.#pid = pid;
    this.#timer = setInterval(() => {
      const sample = sampleProc(this.#pid);
      if (sample !== undefined && this.samples.length < maxSamples) {
        this.samples.push({ atS: (performance.now() - this.#startedAt) / 1000, rssKb: sample.rssKb });
      }
    }, periodMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Growth of RSS after a warm-up: least-squares slope (KiB/s) of the samples taken after `warmupS`. */
export function rssTrend(samples: readonly { atS: number; rssKb: number }[], warmupS: number): {
  slopeKbPerS: number;
  firstKb: number;
  lastKb: number;
  samples: number;
} | undefined {
  const kept = samples.filter((s) => s.atS >= warmupS);
  if (kept.length < 3) {
    return undefined;
  }
  const n = kept.length;
  const meanX = kept.reduce((sum, s) => sum + s.atS, 0) / n;
  const meanY = kept.reduce((sum, s) => sum + s.rssKb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of kept) {
    num += (s.atS - meanX) * (s.rssKb - meanY);
    den += (s.atS - meanX) ** 2;
  }
  return {
    slopeKbPerS: den === 0 ? 0 : num / den,
    firstKb: kept[0]?.rssKb ?? 0,
    lastKb: kept[n - 1]?.rssKb ?? 0,
    samples: n,
  };
}
