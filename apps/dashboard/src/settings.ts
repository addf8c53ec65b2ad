/** What the page URL may set: `?token=<JWT>` for the signal feed, `?strategy=<name>` for the price board. */
export interface PageSettings {
  readonly token: string | undefined;
  readonly strategy: string;
}

export const DEFAULT_STRATEGY = 'volume_wave';

/** Strategy names as the stock protocol accepts them; anything else falls back to the default. */
const STRATEGY_NAME = /^[\w-]{1,64}$/;

export function settingsFrom(query: string): PageSettings {
  const params = new URLSearchParams(query);
  const token = params.get('token')?.trim();
  const strategy = params.get('strategy')?.trim() ?? '';
  return {
    token: token === undefined || token === '' ? undefined : token,
    strategy: STRATEGY_NAME.test(strategy) ? strategy : DEFAULT_STRATEGY,
  };
}
