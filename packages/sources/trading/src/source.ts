import type { DataSource } from '@gw/source';
import { tradingTopicDeclaration, tradingTopicPrefix } from '@gw/topics';
import { SOURCE_NAME } from './account.js';
import { loadAccounts } from './accounts.js';
import { loadCcxt } from './ccxt.js';
import type { Accounts } from './accounts.js';
import { tradingConfig } from './config.js';
import { TradingPoller } from './poller.js';

/**
 * The trading source: per-user balance, positions, pnl and open orders (as the legacy trading service pushed them), fetched only for users
 * someone watches (bus interest in `trading.<user>.<type>`), each type at its interval, published as latest
 * values on change only. Accounts come from `ACCOUNTS_FILE`; a user without one gets a simulated paper account
 * (development) or the `no_account` status (production, or `TRADING_DEFAULT_ACCOUNT=none`).
 *
 * Runs in one process of the cluster (embedded in a gateway on the memory bus, or one worker on Redis):
 * interest is cluster-wide, so a user watched from several gateways is fetched once. Polling of a user's type
 * stops as soon as its interest disappears.
 */
export const tradingSource: DataSource<typeof tradingConfig> = {
  name: SOURCE_NAME,
  description: 'Per-user trading data (balance, positions, pnl, orders) from ccxt exchanges or the paper exchange, for watched users only.',
  config: tradingConfig,
  topics: [tradingTopicDeclaration],
  async run({ config, bus, logger, metrics }, signal) {
    const accounts: Accounts = config.accountsFile === undefined ? new Map() : loadAccounts(config.accountsFile);
    const defaultAccount = config.defaultAccount ?? (config.environment.gatewayEnv === 'production' ? 'none' : 'paper');
    if ([...accounts.values()].some((account) => account.exchange !== 'paper')) {
      await loadCcxt();
    }
    logger.info({ accounts: accounts.size, defaultAccount }, 'trading source starting');
    const poller = new TradingPoller({ bus, logger, metrics, config }, accounts, defaultAccount);
    const watch = await bus.watchInterest(tradingTopicPrefix, (change) => {
      poller.onInterest(change);
    });
    let lostBus = false;
    const stopWatchingBus = bus.onStateChange((state) => {
      if (state !== 'connected') {
        lostBus = true;
        return;
      }
      if (lostBus) {
        lostBus = false;
        bus.interestedTopics(tradingTopicPrefix).then(
          (topics) => {
            logger.info({ topics: topics.length }, 'bus back: resyncing interest and republishing');
            poller.resync(topics);
          },
          (error: unknown) => {
            logger.warn({ err: error }, 'bus back but interest unreadable; polling continues as before');
          },
        );
      }
    });
    try {
      for (const topic of await bus.interestedTopics(tradingTopicPrefix)) {
        poller.onInterest({ topic, interested: true });
      }
      await new Promise<void>((resolve) => {
        if (signal.aborted) {
          resolve();
          return;
        }
        signal.addEventListener('abort', () => {
          resolve();
        }, { once: true });
      });
    } finally {
      stopWatchingBus();
      await poller.stop();
      await watch.unsubscribe().catch(() => undefined);
    }
  },
};
