import type * as Ccxt from 'ccxt';

/**
 * ccxt, loaded on demand. Importing it costs about half a second and 85 MB (every exchange class), which a
 * gateway whose users all trade on the paper exchange should not pay: the source loads it at startup only when
 * the accounts file names a ccxt exchange.
 */
let loaded: typeof Ccxt | undefined;

export async function loadCcxt(): Promise<typeof Ccxt> {
  loaded ??= await import('ccxt');
  return loaded;
}

/** ccxt if it was loaded (its error classes can only be thrown then). */
export function loadedCcxt(): typeof Ccxt | undefined {
  return loaded;
}
