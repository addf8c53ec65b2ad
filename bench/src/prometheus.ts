/**
 * Reading the gateway's `GET /metrics` (Prometheus text format 0.0.4). The bench needs only sample lines of
 * counters and histograms, compared before and after a run; this is a reader of exactly that subset
 * (`name{label="value",...} number`), not a general exposition parser.
 */

export interface MetricSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the sample lines of an exposition; comments and unparseable lines are skipped. */
export function parseExposition(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) {
      continue;
    }
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) {
      labels[label[1] ?? ''] = (label[2] ?? '').replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = match[3] ?? '';
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') {
      continue;
    }
    samples.push({ name: match[1] ?? '', labels, value });
  }
  return samples;
}

/** GET `url` and parse it; bounded by a 10 s timeout. */
export async function scrape(url: string): Promise<MetricSample[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) {
    throw new Error(`GET ${url}: ${response.status}`);
  }
  return parseExposition(await response.text());
}

/** A label filter: exact values, or a predicate on the value. */
export type LabelFilter = Readonly<Record<string, string | ((value: string) => boolean)>>;

function matches(sample: MetricSample, name: string, filter: LabelFilter): boolean {
  if (sample.name !== name) {
    return false;
  }
  for (const [key, want] of Object.entries(filter)) {
    const have = sample.labels[key];
    if (have === undefined || (typeof want === 'string' ? have !== want : !want(have))) {
      return false;
    }
  }
  return true;
}

/** Sum of every sample named `name` whose labels pass `filter` (0 when none). */
export function sumOf(samples: readonly MetricSample[], name: string, filter: LabelFilter = {}): number {
  let sum = 0;
  for (const sample of samples) {
    if (matches(sample, name, filter)) {
      sum += sample.value;
    }
  }
  return sum;
}

/** Cumulative bucket counts of a histogram (summed over the series passing `filter`), by upper bound. */
function buckets(samples: readonly MetricSample[], name: string, filter: LabelFilter): Map<number, number> {
  const byBound = new Map<number, number>();
  for (const sample of samples) {
    if (matches(sample, `${name}_bucket`, filter)) {
      const le = sample.labels['le'] ?? '';
      const bound = le === '+Inf' ? Infinity : Number(le);
      byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
    }
  }
  return byBound;
}

/** Observations and quantiles of a histogram between two scrapes. */
export interface HistogramDelta {
  count: number;
  /** Quantile estimate in the histogram's unit, interpolated linearly within a bucket (as PromQL's histogram_quantile). */
  quantile(q: number): number | undefined;
  /** The upper bound of the highest bucket that received an observation (a bound on the maximum). */
  maxBound(): number | undefined;
}

/** What a histogram observed between `before` and `after` (two scrapes of the same process). */
export function histogramDelta(
  before: readonly MetricSample[],
  after: readonly MetricSample[],
  name: string,
  filter: LabelFilter = {},
): HistogramDelta {
  const start = buckets(before, name, filter);
  const end = buckets(after, name, filter);
  const bounds = [...end.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((bound) => ({ bound, count: (end.get(bound) ?? 0) - (start.get(bound) ?? 0) }));
  const count = cumulative.at(-1)?.count ?? 0;
  return {
    count,
    quantile(q) {
      if (count <= 0) {
        return undefined;
      }
      const rank = q * count;
      let lower = 0;
      let below = 0;
      for (const { bound, count: upTo } of cumulative) {
        if (upTo >= rank) {
          if (bound === Infinity) {
            return lower;
          }
          const inBucket = upTo - below;
          return inBucket <= 0 ? bound : lower + ((bound - lower) * (rank - below)) / inBucket;
        }
        lower = bound;
        below = upTo;
      }
      return lower;
    },
    maxBound() {
      let previous = 0;
      let highest: number | undefined;
      for (const { bound, count: upTo } of cumulative) {
        if (upTo > previous) {
          highest = bound;
        }
        previous = upTo;
      }
      return highest;
    },
  };
}
