/** JSON.stringify as it really is typed: undefined for undefined, functions and symbols. */
const stringify: (value: unknown) => string | undefined = JSON.stringify;

/**
 * A canonical text of a JSON-compatible value for change detection: object keys sorted, numbers rounded to 8
 * decimals (float noise from one poll to the next is not a change) and -0 written as 0. Two values are "the
 * same data" exactly when their canonical texts are equal. Arrays keep their order: the mapping sorts them.
 */
export function canonical(value: unknown): string {
  if (typeof value === 'number') {
    const rounded = Math.round(value * 1e8) / 1e8;
    return JSON.stringify(rounded === 0 ? 0 : rounded);
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return stringify(value) ?? 'null';
}

/** Normalized deep equality (see `canonical`). */
export function sameData(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}
