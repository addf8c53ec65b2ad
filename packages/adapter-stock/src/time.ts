import { formatShanghaiTime } from '@gw/topics';

let cachedSecond = -1;
let cachedText = '';

/**
 * The wire timestamp of `ms` (Asia/Shanghai `YYYY-MM-DDTHH:mm:ss`, as the legacy service), cached per second:
 * a flush formats one timestamp however many connections it writes.
 */
export function wireTimestamp(ms: number = Date.now()): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedText = formatShanghaiTime(ms);
  }
  return cachedText;
}
