import { describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY, settingsFrom } from './settings.js';

describe('settingsFrom', () => {
  it('reads ?token= and ?strategy= from the page URL', () => {
    expect(settingsFrom('?token=abc.def.ghi&strategy=momentum_2')).toEqual({ token: 'abc.def.ghi', strategy: 'momentum_2' });
  });

  it('defaults to volume_wave without a token, and ignores a blank token or a malformed strategy', () => {
    expect(settingsFrom('')).toEqual({ token: undefined, strategy: DEFAULT_STRATEGY });
    expect(settingsFrom('?token=%20&strategy=<script>')).toEqual({ token: undefined, strategy: 'volume_wave' });
  });
});
