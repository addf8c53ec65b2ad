/**
 * Milliseconds since the epoch of the most recent midnight in `timeZone` at or before `now` ("today" starts
 * there). Works across DST changes: the zone's offset is read at `now` and checked again at the candidate.
 */
export function startOfDay(now: number, timeZone: string): number {
  const cached = dayCache.get(timeZone);
  if (cached !== undefined && now >= cached.start && now < cached.start + 82_800_000) {
    // Within 23 h of the cached midnight (the shortest day a DST change makes): still the same day.
    return cached.start;
  }
  const start = computeStartOfDay(now, timeZone);
  dayCache.set(timeZone, { start });
  return start;
}

/**
 * Building an Intl.DateTimeFormat is expensive and pnl polls ask for "today" constantly: one formatter per zone,
 * and the last midnight per zone, are kept (a handful of zones at most).
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
const dayCache = new Map<string, { start: number }>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function computeStartOfDay(now: number, timeZone: string): number {
  const formatter = formatterFor(timeZone);
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
