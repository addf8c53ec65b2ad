import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generationProblems, templateVariables } from './checks.js';
import { sourceNames } from './names.js';

// Read-only checks against the repository itself: its packages, registry and docs/configuration.md.
const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const problems = (name: string): string[] => generationProblems(repositoryRoot, sourceNames(name));

describe('generationProblems (against this repository)', () => {
  it('finds nothing wrong with a fresh name', () => {
    expect(problems('okx-tickers')).toEqual([]);
  });

  it('refuses a name whose package, directory or registration exists', () => {
    expect(problems('testing')).toEqual(['the workspace already has a package named @gw/source-testing']);
    expect(problems('replay')).toEqual([
      'packages/sources/replay already exists',
      'the workspace already has a package named @gw/source-replay',
      'packages/runtime/src/sources.ts already registers @gw/source-replay',
      expect.stringMatching(/^its settings would be REPLAY_\*, but section "replay" already uses REPLAY_FILE, .*: choose another name$/),
    ]);
  });

  // The variables named here are in docs/configuration.md today; other sections may add to these prefixes.
  it('refuses a name whose settings prefix belongs to another section', () => {
    expect(problems('bus')).toContainEqual(expect.stringMatching(/^its settings would be BUS_\*, but section "bus" already uses BUS_INTEREST_TTL_MS, /));
    expect(problems('market')).toContainEqual(expect.stringMatching(/^its settings would be MARKET_\*, but section "stock-market" already uses MARKET_HOURS/));
  });

  it('refuses a bad or reserved name before looking at the workspace', () => {
    expect(problems('Stock')[0]).toMatch(/^"Stock" is not a source name/);
    expect(problems('trading')).toEqual(['"trading" is reserved: it is the trading.* topics of @gw/topics']);
  });

  it('knows the variables the template defines', () => {
    expect(templateVariables(sourceNames('okx-tickers'))).toEqual(['OKX_TICKERS_KEYS', 'OKX_TICKERS_INTERVAL_MS', 'OKX_TICKERS_BACKOFF_MS', 'OKX_TICKERS_BACKOFF_MAX_MS']);
  });
});
