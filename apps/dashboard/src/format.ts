/** How numbers and times read on the page; "—" wherever a value is unknown. */
export const UNKNOWN = '—';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const price = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const rate = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function formatInteger(value: number | undefined): string {
  return value === undefined ? UNKNOWN : integer.format(value);
}

export function formatCompact(value: number | undefined): string {
  return value === undefined ? UNKNOWN : compact.format(value);
}

export function formatPrice(value: number | undefined): string {
  return value === undefined ? UNKNOWN : price.format(value);
}

/** `+1.25` / `-0.40`: a change with its sign. */
export function formatSigned(value: number | undefined, suffix = ''): string {
  if (value === undefined) {
    return UNKNOWN;
  }
  return `${value > 0 ? '+' : ''}${price.format(value)}${suffix}`;
}

export function formatRate(perSecond: number | undefined): string {
  return perSecond === undefined ? UNKNOWN : `${rate.format(perSecond)}/s`;
}

/** `2025-11-24T10:30:01` → `10:30:01` (the stock service's wall-clock times). */
export function clockOf(wallClock: string | undefined): string {
  return wallClock?.slice(11, 19) ?? UNKNOWN;
}

/** Unix seconds → local `HH:MM:SS`. */
export function clockOfUnixSeconds(seconds: number | undefined): string {
  return seconds === undefined ? UNKNOWN : new Date(seconds * 1_000).toLocaleTimeString('en-GB', { hour12: false });
}

/** `3h 12m`, `45s`: how long ago `sinceMs` was. */
export function formatUptime(sinceMs: number | undefined, nowMs: number): string {
  if (sinceMs === undefined) {
    return UNKNOWN;
  }
  const seconds = Math.max(0, Math.floor((nowMs - sinceMs) / 1_000));
  if (seconds < 60) {
    return `${seconds}s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes}m ${seconds % 60}s`;
  }
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h ${minutes % 60}m` : `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** `1 stock`, `3 stocks`. */
export function plural(count: number, noun: string): string {
  return `${integer.format(count)} ${noun}${count === 1 ? '' : 's'}`;
}
