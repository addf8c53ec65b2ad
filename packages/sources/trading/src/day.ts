/**
 * Milliseconds since the epoch of the most recent midnight in `timeZone` at or before `now` ("today" starts
 * there). Works across DST changes: the zone's offset is read at `now` and checked again at the candidate.
 */
export function startOfDay(now: number, timeZone: string): number {
  const formatter = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const wallClock = (ms: number): number => {
    const parts: Record<string, number> = {};
    for (const part of formatter.formatToParts(ms)) {
      parts[part.type] = Number(part.value);
    }
    return Date.UTC(parts['year'] ?? 1970, (parts['month'] ?? 1) - 1, parts['day'] ?? 1, parts['hour'] ?? 0, parts['minute'] ?? 0, parts['second'] ?? 0);
  };
  const local = wallClock(now);
  const offset = local - Math.floor(now / 1000) * 1000;
  const localMidnight = local - (local % 86_400_000);
  let candidate = localMidnight - offset;
  // The offset at midnight may differ from the offset now (a DST change during the day).
  const offsetThen = wallClock(candidate) - candidate;
  candidate = localMidnight - offsetThen;
  return candidate;
}
