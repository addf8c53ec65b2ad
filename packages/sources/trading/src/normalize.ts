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

/**
 * Normalized deep equality: true exactly when `canonical(a) === canonical(b)`, found by walking both values
 * instead of building their texts (it runs at every poll of every watched type, and allocates nothing).
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b && typeof a !== 'number') {
    return true;
  }
  const aNull = isNullLike(a);
  const bNull = isNullLike(b);
  if (aNull || bNull) {
    return aNull && bNull;
  }
  if (typeof a === 'number') {
    return typeof b === 'number' && roundedNumber(a) === roundedNumber(b);
  }
  if (typeof a !== 'object' || typeof b !== 'object') {
    // Strings, booleans (bigints: canonical throws, and so does this).
    return typeof a === 'bigint' || typeof b === 'bigint' ? stringify(a) === stringify(b) : a === b;
  }
  // Both non-null objects here (null is null-like).
  const aList = Array.isArray(a);
  if (aList !== Array.isArray(b)) {
    return false;
  }
  if (aList) {
    const left = a as unknown[];
    const right = b as unknown[];
    if (left.length !== right.length) {
      return false;
    }
    for (let i = 0; i < left.length; i += 1) {
      if (!sameData(left[i], right[i])) {
        return false;
      }
    }
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // for…in with an own-property check visits what Object.keys lists, without allocating the list.
  let defined = 0;
  for (const key in left) {
    if (!hasOwn(left, key)) {
      continue;
    }
    const value = left[key];
    if (value === undefined) {
      continue;
    }
    defined += 1;
    if (!isOwnEnumerable(right, key) || !sameData(value, right[key])) {
      return false;
    }
  }
  for (const key in right) {
    if (hasOwn(right, key) && right[key] !== undefined) {
      defined -= 1;
    }
  }
  return defined === 0;
}

const hasOwn = (object: object, key: string): boolean => Object.prototype.hasOwnProperty.call(object, key);
const isOwnEnumerable = (object: object, key: string): boolean => Object.prototype.propertyIsEnumerable.call(object, key);

/** A number as `canonical` writes it (NaN when it is written `null`). */
function roundedNumber(value: number): number {
  const rounded = Math.round(value * 1e8) / 1e8;
  return Number.isFinite(rounded) ? rounded : Number.NaN;
}

/** Values `canonical` writes as `null`: null, undefined, functions, symbols, and numbers that are not finite once rounded. */
function isNullLike(value: unknown): boolean {
  const type = typeof value;
  if (type === 'number') {
    return Number.isNaN(roundedNumber(value as number));
  }
  return value === null || type === 'undefined' || type === 'function' || type === 'symbol';
}
