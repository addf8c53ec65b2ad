/**
 * What the packed-SDK test's consumer does, the same in Node (app.mjs) and in a page (index.html): it follows
 * signals (resuming after `since` when given), a stock watchlist and the four trading types, and reports every
 * event through `report(event, data)`. Plain JavaScript against the installed package only, as a team writes it.
 *
 * `sdk` is the package's module (`@gw/client` in Node, its browser bundle in a page); `WebSocket` is the `ws`
 * package's in Node 20 and absent in a browser.
 */
export async function follow(sdk, { httpUrl, token, since, watchlist, WebSocket }, report) {
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  const getToken = () => token;
  const implementation = WebSocket === undefined ? {} : { WebSocket };

  const signals = new sdk.SignalsClient({ url: `${wsUrl}/ws/signals`, getToken, ...(since ? { since } : {}), ...implementation });
  signals.onConnect((info) => report('signals.connected', info));
  signals.onRecovery((recovery) => report('signals.recovery', recovery));
  signals.onSignal((signal) => report('signal', signal));

  const stock = new sdk.StockPricesClient({ url: `${wsUrl}/ws/stock/prices`, ...implementation });
  stock.onPrices((update) => report('prices', update));

  const trading = new sdk.TradingClient({ url: httpUrl, getToken });
  trading.onConnect((connected) => report('trading.connected', connected));
  trading.onBalanceUpdate((push) => report('trading.push', push));
  trading.onPositionsUpdate((push) => report('trading.push', push));
  trading.onPnlUpdate((push) => report('trading.push', push));
  trading.onOrdersUpdate((push) => report('trading.push', push));

  for (const client of [signals, stock, trading]) {
    client.onError((error) => report('error', { source: error.source, code: error.code, message: error.message }));
  }

  const [watched, tradingAck] = await Promise.all([
    Promise.all(watchlist.map((code) => stock.subscribe('stock', code))),
    trading.subscribe(sdk.tradingTypes),
  ]);
  report('stock.watchlist', watched);
  report('trading.subscribed', tradingAck);

  /** Closes the three clients; returns the id to resume the signals after next time. */
  return () => {
    signals.close();
    stock.close();
    trading.close();
    return signals.lastSignalId;
  };
}
