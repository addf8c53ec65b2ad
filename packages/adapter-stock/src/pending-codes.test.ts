import { describe, expect, it } from 'vitest';
import { PendingCodes } from './connection.js';

function codesOf(pending: PendingCodes): string[] {
  const codes: string[] = [];
  for (let i = 0; i < pending.size; i += 1) {
    codes.push(pending.at(i));
  }
  return codes;
}

/** Six-digit codes 600000, 600001, ... */
function manyCodes(count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(600_000 + i));
}

describe('PendingCodes (a connection’s changed stocks)', () => {
  it('keeps the order codes were added, each once', () => {
    const pending = new PendingCodes();
    pending.add('600519');
    pending.add('000001');
    pending.add('600519');
    expect(codesOf(pending)).toEqual(['600519', '000001']);
    expect(pending.has('000001')).toBe(true);
    expect(pending.has('300750')).toBe(false);
  });

  it('takes a code reached through a second subscription in the same spread once', () => {
    const pending = new PendingCodes();
    pending.addSpread('600519', 1, 10);
    pending.addSpread('600519', 1, 10);
    pending.addSpread('000001', 1, 11);
    expect(codesOf(pending)).toEqual(['600519', '000001']);
  });

  it('takes no repeat from a later flush when the earlier one was not written (short and long lists)', () => {
    for (const count of [3, 40]) {
      const pending = new PendingCodes();
      const codes = manyCodes(count);
      let mark = 0;
      for (const code of codes) {
        pending.addSpread(code, 1, (mark += 1));
      }
      // Held over (a snapshot's hold or a slow reader): the next flush spreads some of them again, and a new one.
      for (const code of [...codes.slice(0, 2), '300750']) {
        pending.addSpread(code, 2, (mark += 1));
      }
      // And again: the code the second flush added is known as well.
      pending.addSpread('300750', 3, (mark += 1));
      expect(codesOf(pending)).toEqual([...codes, '300750']);
    }
  });

  it('takes no repeat from a spread after a code added another way (a buy list change)', () => {
    const pending = new PendingCodes();
    pending.addSpread('600519', 1, 1);
    pending.add('000001');
    pending.addSpread('000001', 1, 2);
    expect(codesOf(pending)).toEqual(['600519', '000001']);
  });

  it('starts over when cleared, whatever it held', () => {
    const pending = new PendingCodes();
    for (const [i, code] of manyCodes(40).entries()) {
      pending.addSpread(code, 1, i + 1);
    }
    expect(pending.has('600039')).toBe(true);
    pending.clear();
    expect(pending.size).toBe(0);
    expect(pending.has('600039')).toBe(false);
    pending.addSpread('600039', 2, 100);
    pending.addSpread('600001', 2, 101);
    expect(codesOf(pending)).toEqual(['600039', '600001']);
  });

  it('removes the codes a predicate selects and keeps the others in order (short and long lists)', () => {
    for (const count of [6, 40]) {
      const pending = new PendingCodes();
      const codes = manyCodes(count);
      for (const code of codes) {
        pending.add(code);
      }
      expect(pending.has(codes[1] as string)).toBe(true);
      pending.deleteWhere((code) => Number(code) % 2 === 1);
      const even = codes.filter((code) => Number(code) % 2 === 0);
      expect(codesOf(pending)).toEqual(even);
      expect(pending.has(codes[1] as string)).toBe(false);
      pending.add(codes[1] as string);
      pending.add(codes[0] as string);
      expect(codesOf(pending)).toEqual([...even, codes[1]]);
    }
  });
});
