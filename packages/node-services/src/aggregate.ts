/**
 * Sums per-node JSON answers into one: numbers are added, objects merged key by key (recursively), anything
 * else keeps the first node's value. Used for cluster-wide counters such as `GET /api/websocket/stats?scope=cluster`.
 */
export function sumNumericTree(answers: readonly unknown[]): unknown {
  const present: unknown[] = answers.filter((a) => a !== undefined && a !== null);
  const [first] = present;
  if (typeof first === 'number') {
    return present.reduce<number>((sum, value) => sum + (typeof value === 'number' ? value : 0), 0);
  }
  if (typeof first === 'object' && first !== null && !Array.isArray(first)) {
    const keys = new Set(present.flatMap((value) => (typeof value === 'object' && value !== null ? Object.keys(value) : [])));
    const merged: Record<string, unknown> = {};
    for (const key of keys) {
      merged[key] = sumNumericTree(present.map((value) => (value as Record<string, unknown>)[key]));
    }
    return merged;
  }
  return first;
}
