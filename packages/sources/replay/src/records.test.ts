import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SAMPLE_RECORDING } from './config.js';
import { formatOfFile, parseRecordTime, parseRecording } from './records.js';

describe('replay recordings', () => {
  it('reads Shanghai local times, ISO times with an offset and epoch milliseconds', () => {
    const expected = Date.parse('2025-11-24T02:30:00Z');
    expect(parseRecordTime('2025-11-24T10:30:00')).toBe(expected);
    expect(parseRecordTime('2025-11-24 10:30:00')).toBe(expected);
    expect(parseRecordTime('2025-11-24T10:30:00.250')).toBe(expected + 250);
    expect(parseRecordTime('2025-11-24T02:30:00Z')).toBe(expected);
    expect(parseRecordTime('2025-11-24T10:30:00+08:00')).toBe(expected);
    expect(parseRecordTime(String(expected))).toBe(expected);
    expect(parseRecordTime(expected)).toBe(expected);
    expect(parseRecordTime('yesterday')).toBeNaN();
  });

  it('parses CSV with optional columns, filling names and markets from the universe, sorted by time', () => {
    const records = parseRecording(
      ['timestamp,code,price,volume', '2025-11-24T09:30:05,600519,1826.00,300', '2025-11-24T09:30:01,000001,11.53,1000', '# comment', ''].join('\n'),
      'csv',
    );
    expect(records.map((r) => r.code)).toEqual(['000001', '600519']);
    expect(records[1]).toMatchObject({ name: '贵州茅台', market: 'SH', price: 1826, volume: 300, prevClose: undefined });
  });

  it('parses JSON lines, codes given as numbers included', () => {
    const records = parseRecording('{"timestamp": 1763951400000, "code": 1, "price": 11.5, "volume": 100, "prev_close": 11.4}\n', 'jsonl');
    expect(records[0]).toMatchObject({ code: '000001', name: '平安银行', market: 'SZ', prevClose: 11.4 });
  });

  it('names the first bad line', () => {
    expect(() => parseRecording('timestamp,code,price,volume\n2025-11-24T09:30:00,600519,1826,1\n2025-11-24T09:30:01,600519,-5,2\n', 'csv')).toThrow(/line 3/);
    expect(() => parseRecording('timestamp,code,price,volume\nwhenever,600519,1826,1\n', 'csv')).toThrow(/line 2: unreadable timestamp/);
    expect(() => parseRecording('{"timestamp": 1}\nnot json\n', 'jsonl')).toThrow(/line/);
    expect(() => parseRecording('timestamp,code,price,volume\n', 'csv')).toThrow(/no ticks/);
  });

  it('ships a sample recording in both formats', () => {
    const csv = parseRecording(readFileSync(SAMPLE_RECORDING, 'utf8'), formatOfFile(SAMPLE_RECORDING));
    expect(csv.length).toBeGreaterThan(500);
    expect(new Set(csv.map((r) => r.code))).toEqual(new Set(['600519', '000001', '300750', '688981', '601318', '835185']));
    const jsonlFile = SAMPLE_RECORDING.replace(/\.csv$/, '.jsonl');
    expect(formatOfFile(jsonlFile)).toBe('jsonl');
    const jsonl = parseRecording(readFileSync(jsonlFile, 'utf8'), 'jsonl');
    expect(jsonl).toEqual(csv.slice(0, jsonl.length).map((r) => ({ ...r, amount: undefined })));
  });
});
