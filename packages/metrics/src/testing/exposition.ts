/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests.
 *
 * Why not only a library: the one npm parser that reads prom-client's output (`parse-prometheus-text-format`)
 * merges every labelled histogram series into one label-less entry, and `prom2javascript` rejects prom-client's
 * `Nan`. So the assertions use this parser, and a test cross-checks it against `parse-prometheus-text-format`
 * wherever that library is right (names, types, counter and gauge samples).
 *
 * Strict on purpose: anything a Prometheus server would reject (a sample outside its TYPE'd family, a bad name,
 * a bad escape, a duplicate series, a non-cumulative histogram) throws, so a test cannot pass on malformed text.
 */

/** Metric types of the text format, lower case as written after `# TYPE`. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** One sample line. `name` is the sample's own name (`x_bucket`, `x_sum` for a histogram `x`). */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family: its `# HELP`, its `# TYPE` and the samples that follow them. */
export interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** One histogram series: the labels without `le`, the cumulative buckets by upper bound, sum and count. */
export interface HistogramSeries {
  labels: Record<string, string>;
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly string[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Parses a float as the format (and Go's ParseFloat, which Prometheus uses) allows: ±Inf and NaN in any case. */
function parseValue(text: string, line: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') {
    return Number.POSITIVE_INFINITY;
  }
  if (lower === '-inf') {
    return Number.NEGATIVE_INFINITY;
  }
  if (lower === 'nan') {
    return Number.NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`bad value ${JSON.stringify(text)} in: ${line}`);
  }
  return Number(text);
}

/** Reads `{a="x",b="y"}` starting at `start` (the `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (line[i] === '}') {
      return { labels, end: i + 1 };
    }
    const eq = line.indexOf('=', i);
    if (eq < 0) {
      throw new Error(`bad labels in: ${line}`);
    }
    const name = line.slice(i, eq).trim();
    if (!LABEL_NAME.test(name) || line[eq + 1] !== '"') {
      throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    }
    let value = '';
    i = eq + 2;
    for (;;) {
      const c = line[i];
      if (c === undefined) {
        throw new Error(`unterminated label value in: ${line}`);
      }
      if (c === '"') {
        break;
      }
      if (c === '\\') {
        const next = line[i + 1];
        if (next === '\\' || next === '"') {
          value += next;
        } else if (next === 'n') {
          value += '\n';
        } else {
          throw new Error(`bad escape in label value in: ${line}`);
        }
        i += 2;
      } else {
        value += c;
        i += 1;
      }
    }
    if (name in labels) {
      throw new Error(`duplicate label ${name} in: ${line}`);
    }
    labels[name] = value;
    i += 1;
    if (line[i] === ',') {
      i += 1;
    } else if (line[i] !== '}') {
      throw new Error(`expected , or } in: ${line}`);
    }
  }
}

function parseSample(line: string): Sample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd < 0) {
    throw new Error(`sample without value: ${line}`);
  }
  const name = line.slice(0, nameEnd);
  if (!METRIC_NAME.test(name)) {
    throw new Error(`bad metric name ${JSON.stringify(name)} in: ${line}`);
  }
  let labels: Record<string, string> = {};
  let rest = nameEnd;
  if (line[nameEnd] === '{') {
    ({ labels, end: rest } = parseLabels(line, nameEnd));
  }
  const fields = line.slice(rest).trim().split(/ +/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') {
    throw new Error(`expected value [timestamp] in: ${line}`);
  }
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) {
    throw new Error(`bad timestamp in: ${line}`);
  }
  return { name, labels, value: parseValue(fields[0]!, line) };
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** The sample names a family of `type` may contain. */
function sampleNames(family: string, type: MetricType): string[] {
  switch (type) {
    case 'histogram':
      return [`${family}_bucket`, `${family}_sum`, `${family}_count`];
    case 'summary':
      return [family, `${family}_sum`, `${family}_count`];
    case 'counter':
    case 'gauge':
    case 'untyped':
      return [family];
  }
}

function seriesKey(sample: Sample): string {
  const labels = Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${sample.name}${JSON.stringify(labels)}`;
}

/** Parses an exposition into its families, by name. Throws on anything a Prometheus server would reject. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (match === null) {
        continue; // a plain comment
      }
      const [, keyword, name, rest] = match as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!METRIC_NAME.test(name)) {
        throw new Error(`bad metric name in: ${line}`);
      }
      let family = families.get(name);
      if (family === undefined) {
        family = { name, help: '', type: 'untyped', samples: [] };
        families.set(name, family);
      } else if (family !== current || family.samples.length > 0) {
        throw new Error(`metadata of ${name} after its samples or repeated: ${line}`);
      }
      current = family;
      if (keyword === 'HELP') {
        family.help = unescapeHelp(rest);
      } else {
        if (!TYPES.includes(rest)) {
          throw new Error(`bad type in: ${line}`);
        }
        family.type = rest as MetricType;
      }
      continue;
    }
    const sample = parseSample(line);
    if (current === undefined || !sampleNames(current.name, current.type).includes(sample.name)) {
      throw new Error(`sample outside its family (after # TYPE of ${current?.name ?? 'nothing'}): ${line}`);
    }
    const key = seriesKey(sample);
    if (seen.has(key)) {
      throw new Error(`duplicate series: ${line}`);
    }
    seen.add(key);
    current.samples.push(sample);
  }
  return families;
}

/**
 * The series of a histogram family, grouped by their labels without `le`, checked for what makes a histogram
 * valid: `_sum` and `_count` present, buckets cumulative, and the `+Inf` bucket equal to the count.
 */
export function histogramSeries(family: Family): HistogramSeries[] {
  if (family.type !== 'histogram') {
    throw new Error(`${family.name} is a ${family.type}, not a histogram`);
  }
  const series = new Map<string, HistogramSeries>();
  for (const sample of family.samples) {
    const { le, ...labels } = sample.labels;
    const key = seriesKey({ name: '', labels, value: 0 });
    let entry = series.get(key);
    if (entry === undefined) {
      entry = { labels, buckets: new Map(), sum: Number.NaN, count: Number.NaN };
      series.set(key, entry);
    }
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) {
        throw new Error(`bucket without le in ${family.name}`);
      }
      entry.buckets.set(parseValue(le, sample.name), sample.value);
    } else if (le !== undefined) {
      throw new Error(`le on ${sample.name}`);
    } else if (sample.name.endsWith('_sum')) {
      entry.sum = sample.value;
    } else {
      entry.count = sample.value;
    }
  }
  for (const entry of series.values()) {
    const bounds = [...entry.buckets.keys()];
    const counts = [...entry.buckets.values()];
    if (bounds.some((b, i) => i > 0 && b <= bounds[i - 1]!) || counts.some((c, i) => i > 0 && c < counts[i - 1]!)) {
      throw new Error(`${family.name} buckets are not ascending and cumulative`);
    }
    if (entry.buckets.get(Number.POSITIVE_INFINITY) !== entry.count || Number.isNaN(entry.sum)) {
      throw new Error(`${family.name} lacks a +Inf bucket equal to _count, or _sum`);
    }
  }
  return [...series.values()];
}
