import { z } from 'zod';
import { GatewayError } from '@gw/core';
import { listedStocks } from '@gw/source-stock-market';
import { SHANGHAI_OFFSET_MS, marketOfCode, stockCodeSchema, stockMarketSchema } from '@gw/topics';
import type { StockInfo } from '@gw/topics';

/**
 * One recorded tick. Required: `timestamp`, `code`, `price`, `volume` (cumulative shares of the day, as quote
 * feeds report it). Optional: `name` and `market` (default: the shipped universe's, else the code and the
 * exchange its prefix implies), `prev_close` (default: the stock's first recorded price), `amount` (cumulative
 * turnover; default: computed from the ticks).
 *
 * `timestamp` is either epoch milliseconds or an ISO date-time; one without an offset is Asia/Shanghai time
 * (`2025-11-24T09:30:00`, the legacy wire format).
 */
export interface TickRecord {
  ts: number;
  code: string;
  name: string;
  market: StockInfo['market'];
  price: number;
  volume: number;
  prevClose: number | undefined;
  amount: number | undefined;
}

const number = z.coerce.number();

const rawRecordSchema = z.object({
  timestamp: z.union([z.number(), z.string().min(1)]),
  code: z.union([stockCodeSchema, z.number().int().transform((n) => String(n).padStart(6, '0'))]),
  name: z.string().min(1).max(32).optional(),
  market: stockMarketSchema.optional(),
  price: number.positive(),
  volume: number.nonnegative(),
  prev_close: number.positive().optional(),
  amount: number.nonnegative().optional(),
});

/** Parses a record time: epoch ms, or ISO (no offset = Shanghai). NaN when unreadable. */
export function parseRecordTime(value: string | number): number {
  if (typeof value === 'number') {
    return value;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    return Number(text);
  }
  const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(text);
  if (local !== null) {
    const [, y, mo, d, h, mi, s, frac] = local;
    const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), Number((frac ?? '0').padEnd(3, '0')));
    return utc - SHANGHAI_OFFSET_MS;
  }
  return Date.parse(text);
}

function splitCsvLine(line: string): string[] {
  return line.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
}

/** The rows of a CSV file with a header line, as objects keyed by the header's (lower-case) names. */
function csvRows(text: string): { line: number; row: Record<string, string> }[] {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.toLowerCase());
  const rows: { line: number; row: Record<string, string> }[] = [];
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    if (line.trim() === '' || line.trimStart().startsWith('#')) {
      continue;
    }
    const cells = splitCsvLine(line);
    const row: Record<string, string> = {};
    header.forEach((key, index) => {
      const cell = cells[index];
      if (cell !== undefined && cell !== '') {
        row[key] = cell;
      }
    });
    rows.push({ line: i + 1, row });
  }
  return rows;
}

function jsonlRows(text: string): { line: number; row: unknown }[] {
  const rows: { line: number; row: unknown }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]?.trim() ?? '';
    if (line === '') {
      continue;
    }
    try {
      rows.push({ line: i + 1, row: JSON.parse(line) as unknown });
    } catch {
      throw new GatewayError('config_invalid', { message: `replay file line ${i + 1}: not valid JSON` });
    }
  }
  return rows;
}

export type ReplayFormat = 'csv' | 'jsonl';

/** `csv` or `jsonl` from a file name (`.jsonl`/`.ndjson`/`.json` are JSON lines, anything else CSV). */
export function formatOfFile(file: string): ReplayFormat {
  return /\.(jsonl|ndjson|json)$/i.test(file) ? 'jsonl' : 'csv';
}

/**
 * Parses a recording into ticks sorted by time (stable: ties keep file order). Fails with `config_invalid`
 * naming the first bad line, or when there is no tick at all.
 */
export function parseRecording(text: string, format: ReplayFormat): TickRecord[] {
  const names = new Map(listedStocks().map((s) => [s.code, s]));
  const rows = format === 'csv' ? csvRows(text) : jsonlRows(text);
  const records: TickRecord[] = [];
  for (const { line, row } of rows) {
    const parsed = rawRecordSchema.safeParse(row);
    const ts = parsed.success ? parseRecordTime(parsed.data.timestamp) : Number.NaN;
    if (!parsed.success || !Number.isFinite(ts)) {
      const why = parsed.success ? 'unreadable timestamp' : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new GatewayError('config_invalid', { message: `replay file line ${line}: ${why}` });
    }
    const data = parsed.data;
    const listed = names.get(data.code);
    const market = data.market ?? listed?.market ?? marketOfCode(data.code);
    if (market === undefined) {
      throw new GatewayError('config_invalid', { message: `replay file line ${line}: no market for code ${data.code}` });
    }
    records.push({
      ts,
      code: data.code,
      name: data.name ?? listed?.name ?? data.code,
      market,
      price: data.price,
      volume: Math.round(data.volume),
      prevClose: data.prev_close,
      amount: data.amount,
    });
  }
  if (records.length === 0) {
    throw new GatewayError('config_invalid', { message: 'replay file has no ticks' });
  }
  return records
    .map((record, index) => ({ record, index }))
    .sort((a, b) => a.record.ts - b.record.ts || a.index - b.index)
    .map(({ record }) => record);
}
