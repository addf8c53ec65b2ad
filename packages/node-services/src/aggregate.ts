/**
 * How the values of one field combine: `sum` adds numbers (the default: counters and open-connection counts);
 * `max`/`min` keep the largest/smallest number or string (ISO times compare as strings), for fields that are
 * not additive (an uptime, a start time, a count of things every process holds the same); `first` keeps the
 * first value.
 */
export type MergeRule = 'sum' | 'max' | 'min' | 'first';

export interface MergeTreeOptions {
  /** Rules by field name, at any depth; a rule on an object field applies to everything below it. */
  rules?: Readonly<Record<string, MergeRule>>;
  /** Arrays: keep the first answer's (default) or concatenate all of them. */
  arrays?: 'first' | 'concat';
}

/**
 * Merges JSON answers into one, key by key (recursively): numbers follow their field's rule (added by
 * default), objects are merged key by key, arrays are kept or concatenated as asked, anything else keeps the
 * first answer's value. Missing (undefined or null) answers are skipped.
 */
export function mergeTree(answers: readonly unknown[], options: MergeTreeOptions = {}): unknown {
  return mergeValues(answers, options, 'sum');
}

function mergeValues(answers: readonly unknown[], options: MergeTreeOptions, rule: MergeRule): unknown {
  const present: unknown[] = answers.filter((a) => a !== undefined && a !== null);
  const [first] = present;
  if (Array.isArray(first)) {
    return options.arrays === 'concat' ? present.flatMap((value) => (Array.isArray(value) ? (value as unknown[]) : [])) : first;
  }
  if (typeof first === 'object' && first !== null) {
    const keys = new Set(present.flatMap((value) => (typeof value === 'object' && value !== null ? Object.keys(value) : [])));
    const merged: Record<string, unknown> = {};
    for (const key of keys) {
      const values = present.map((value) => (value as Record<string, unknown>)[key]);
      merged[key] = mergeValues(values, options, options.rules?.[key] ?? rule);
    }
    return merged;
  }
  if (rule === 'first') {
    return first;
  }
  if (typeof first === 'number') {
    const numbers = present.filter((value): value is number => typeof value === 'number');
    return rule === 'max' ? Math.max(...numbers) : rule === 'min' ? Math.min(...numbers) : numbers.reduce((sum, n) => sum + n, 0);
  }
  if (typeof first === 'string' && (rule === 'max' || rule === 'min')) {
    const strings = present.filter((value): value is string => typeof value === 'string');
    return strings.reduce((best, s) => ((rule === 'max' ? s > best : s < best) ? s : best));
  }
  return first;
}

/**
 * Sums per-node JSON answers into one: numbers are added, objects merged key by key (recursively), anything
 * else keeps the first node's value. Used for cluster-wide counters such as `GET /api/websocket/stats?scope=cluster`.
 */
export function sumNumericTree(answers: readonly unknown[]): unknown {
  return mergeTree(answers);
}

/**
 * The default merge of one node's member answers (`ClusterView.provide` without a merge): lists are
 * concatenated (every member's clients), objects merged with numbers added and lists concatenated.
 */
export function mergeMemberAnswers<T>(answers: T[]): T {
  return mergeTree(answers, { arrays: 'concat' }) as T;
}
