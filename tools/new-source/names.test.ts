import { describe, expect, it } from 'vitest';
import { nameProblems, sourceNames } from './names.js';

describe('source names', () => {
  it('spells a name for packages, identifiers, types and environment variables', () => {
    expect(sourceNames('okx-tickers')).toEqual({
      name: 'okx-tickers',
      camelName: 'okxTickers',
      PascalName: 'OkxTickers',
      UPPER_NAME: 'OKX_TICKERS',
      packageName: '@gw/source-okx-tickers',
      exportName: 'okxTickersSource',
    });
    expect(sourceNames('feed2-v3-x')).toMatchObject({ camelName: 'feed2V3X', PascalName: 'Feed2V3X', UPPER_NAME: 'FEED2_V3_X' });
    expect(sourceNames('a-2b')).toMatchObject({ camelName: 'a2b', PascalName: 'A2b' });
  });

  it('accepts lower-case words joined by single hyphens, starting with a letter, 2 to 40 characters', () => {
    for (const good of ['okx', 'okx-tickers', 'a1', 'feed-2']) {
      expect(nameProblems(good), good).toEqual([]);
    }
    for (const bad of ['', 'OKX', 'okx_tickers', '-okx', 'okx-', 'okx--tickers', '2okx', 'okx tickers', 'okx.tickers', 'ökx']) {
      expect(nameProblems(bad), bad).toEqual([
        `"${bad}" is not a source name: use lower-case letters and digits, words joined by "-", starting with a letter (e.g. okx-tickers)`,
      ]);
    }
    expect(nameProblems('x')).toEqual(['"x" has 1 characters: use 2 to 40']);
    expect(nameProblems('a'.repeat(41))).toEqual([`"${'a'.repeat(41)}" has 41 characters: use 2 to 40`]);
  });

  it("refuses the topic namespaces other packages publish in", () => {
    expect(nameProblems('signals')).toEqual(['"signals" is reserved: it is the signals topic of @gw/topics']);
    expect(nameProblems('system')).toEqual(['"system" is reserved: it is the system.* topics (system.heartbeat)']);
  });
});
