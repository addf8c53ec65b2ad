/**
 * Formats milliseconds since the epoch as `YYYY-MM-DDTHH:mm:ss` (the legacy service's `timestamp`, no zone
 * suffix) in a fixed time zone. Called once per push, not per socket; the last second is cached because pushes
 * of one poll round arrive within the same second.
 */
export function createTimestampFormatter(timeZone: string): (ms: number) => string {
  let cachedSecond = Number.NaN;
  let cached = '';
  const format =
    timeZone === 'UTC'
      ? (ms: number): string => new Date(ms).toISOString().slice(0, 19)
      : zonedFormatter(timeZone);
  return (ms) => {
    const second = Math.floor(ms / 1000);
    if (second !== cachedSecond) {
      cachedSecond = second;
      cached = format(ms);
    }
    return cached;
  };
}

function zonedFormatter(timeZone: string): (ms: number) => string {
  const formatter = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  return (ms) => {
    const parts: Record<string, string> = {};
    for (const part of formatter.formatToParts(ms)) {
      parts[part.type] = part.value;
    }
    return `${parts['year']}-${parts['month']}-${parts['day']}T${parts['hour']}:${parts['minute']}:${parts['second']}`;
  };
}
