import { onBusReturn } from '@gw/source';
import type { DataSource } from '@gw/source';
import { tradingTopicDeclaration, tradingTopicPrefix } from '@gw/topics';
import { SOURCE_NAME } from './account.js';
import { loadAccounts } from './accounts.js';
import { loadCcxt } from './ccxt.js';
import type { Accounts } from './accounts.js';
import { tradingConfig } from './config.js';
import { TradingPoller } from './poller.js';

/**
 * After the bus came back, how long until topics nobody declared interest in again stop being polled. The
 * other processes declare their interest again when they reconnect (Redis may have restarted empty), within a
 * couple of seconds; what is still missing then was the interest of processes that died meanwhile.
 */
export const INTEREST_RECHECK_MS = 5_000;

/**
 * The trading source: per-user balance, positions, pnl and open orders (as the legacy trading service pushed them), fetched only for users
 * someone watches (bus interest in `trading.<user>.<type>`), each type at its interval, published as latest
 * values on change only. Accounts come from `ACCOUNTS_FILE`; a user without one gets a simulated paper account
 * (development) or the `no_account` status (production, or `TRADING_DEFAULT_ACCOUNT=none`).
 *
 * Runs in one process of the cluster (embedded in a gateway on the memory bus, or one worker on Redis):
 * interest is cluster-wide, so a user watched from several gateways is fetched once. Polling of a user's type
 * stops as soon as its interest disappears.
 *
 * At start, and whenever the bus comes back after an outage (Redis may have restarted empty), every watched
 * (user, type) is fetched at once, many accounts spread over at most one interval, and published (after an
 * outage even if unchanged), without waiting for its schedule. Topics whose interest is still gone
 * `INTEREST_RECHECK_MS` after the bus came back stop being polled.
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
    let recheck: NodeJS.Timeout | undefined;
    const dropVanished = (): void => {
      bus.interestedTopics(tradingTopicPrefix).then(
        (topics) => {
          if (!signal.aborted) {
            poller.dropUnwanted(topics);
          }
        },
        (error: unknown) => {
          if (!signal.aborted) {
            logger.warn({ err: error }, 'interest unreadable: watched topics kept until the bus is back');
          }
        },
      );
    };
    const stopWatchingBus = onBusReturn(bus, () => {
      clearTimeout(recheck);
      recheck = setTimeout(dropVanished, INTEREST_RECHECK_MS);
      recheck.unref();
      bus.interestedTopics(tradingTopicPrefix).then(
        (topics) => {
          if (signal.aborted) {
            return;
          }
          logger.info({ topics: topics.length }, 'bus back: resyncing interest, fetching and republishing every watched type now');
          poller.resync(topics, { republish: true });
        },
        (error: unknown) => {
          if (signal.aborted) {
            return;
          }
          logger.warn({ err: error }, 'bus back but interest unreadable: fetching and republishing what is watched now');
          poller.resync(undefined, { republish: true });
        },
      );
    });
    try {
      poller.resync(await bus.interestedTopics(tradingTopicPrefix), { republish: false });
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
      clearTimeout(recheck);
      await poller.stop();
      await watch.unsubscribe().catch(() => undefined);
    }
  },
};
