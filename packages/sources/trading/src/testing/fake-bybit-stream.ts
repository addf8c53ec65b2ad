import { randomUUID } from 'node:crypto';
import type { FakeAccount, FakeBybit, FakeOrder } from './fake-bybit.js';
import { orderRow, positionRow, walletRow } from './fake-bybit.js';
import { PRIVATE_PATH, startFakeBybitSocket } from './fake-bybit-socket.js';
import type { FakeBybitSocket } from './fake-bybit-socket.js';

/**
 * The fake Bybit exchange as a whole for one set of accounts: the v5 REST fake (`rest`) and the v5 private
 * WebSocket fake (`socket`) over the SAME accounts, and controls that change an account the way the exchange
 * would — so a change shows on REST at once and is pushed on the private stream (`wallet`, `position`,
 * `order`, `execution` topics, in the v5 shapes, `creationTime` set to the change's time) to the key's
 * authenticated, subscribed connections. A change made while nobody is connected is only visible on REST.
 *
 * Auth signatures are checked with the account's `secret` (FakeAccount.secret).
 */
export interface FakeBybitExchange {
  readonly rest: FakeBybit;
  readonly socket: FakeBybitSocket;
  /** The stream base URL to give an account (`ws://127.0.0.1:PORT`). */
  readonly streamUrl: string;
  /** Adds a resting order; pushes `order` (New) and `wallet`. Returns the change's time (ms). */
  placeOrder(apiKey: string, order: Omit<FakeOrder, 'orderStatus' | 'updatedTime'>): number;
  /** Cancels an open order; pushes `order` (Cancelled) and `wallet`. */
  cancelOrder(apiKey: string, orderId: string): number;
  /**
   * Fills an open order completely at its price: the position of its symbol grows, shrinks or flips, a
   * reduction realizes pnl (a closed-pnl record, the wallet balance moves); pushes `order` (Filled),
   * `execution`, `position` and `wallet`.
   */
  fillOrder(apiKey: string, orderId: string): number;
  /** Moves the mark price of `symbol`: unrealized pnl of its positions follows; pushes `position`. */
  moveMarkPrice(apiKey: string, symbol: string, markPrice: number): number;
  /** Sets the wallet balance and available amount; pushes `wallet`. */
  setWallet(apiKey: string, walletBalance: number, availableToWithdraw: number): number;
  close(): Promise<void>;
}

const fixed = (value: number, digits = 4): string => String(Number(value.toFixed(digits)));

function unrealised(side: 'Buy' | 'Sell', size: number, entry: number, mark: number): string {
  return fixed((side === 'Buy' ? 1 : -1) * (mark - entry) * size);
}

/** The REST fake's accounts, streamed: starts the private WebSocket fake beside `rest`. */
export async function startFakeBybitStream(rest: FakeBybit): Promise<FakeBybitExchange> {
  const socket = await startFakeBybitSocket({
    secretOf: (apiKey) => {
      try {
        return rest.account(apiKey).secret;
      } catch {
        return undefined;
      }
    },
  });

  const push = (apiKey: string, topic: string, data: unknown[], at: number): void => {
    socket.publish(PRIVATE_PATH, topic, { id: randomUUID(), topic, creationTime: at, data }, apiKey);
  };
  const pushWallet = (apiKey: string, account: FakeAccount, at: number): void => {
    push(apiKey, 'wallet', [walletRow(account)], at);
  };
  const pushOrder = (apiKey: string, order: FakeOrder, at: number): void => {
    push(apiKey, 'order', [{ category: 'linear', ...orderRow(order) }], at);
  };
  const pushPositions = (apiKey: string, account: FakeAccount, symbol: string, at: number): void => {
    const rows = account.positions.filter((p) => p.symbol === symbol).map((p) => {
      const { avgPrice, ...row } = positionRow(p);
      return { category: 'linear', ...row, entryPrice: avgPrice };
    });
    // A closed position is pushed flat: empty side, size 0 (Bybit's shape for an empty position).
    const data = rows.length > 0 ? rows : [{ category: 'linear', symbol, side: '', size: '0', entryPrice: '0', markPrice: '0', positionValue: '0', unrealisedPnl: '0', leverage: '10', positionIdx: 0, updatedTime: String(at), createdTime: String(at), positionStatus: 'Normal', seq: 1 }];
    push(apiKey, 'position', data, at);
  };
  const orderIm = (account: FakeAccount): string =>
    fixed(account.orders.reduce((sum, o) => sum + (Number(o.leavesQty ?? o.qty) * Number(o.price)) / 10, 0));
  const findOrder = (account: FakeAccount, orderId: string): FakeOrder => {
    const order = account.orders.find((o) => o.orderId === orderId);
    if (order === undefined) {
      throw new Error(`no open order ${orderId}`);
    }
    return order;
  };

  return {
    rest,
    socket,
    streamUrl: socket.url,
    placeOrder(apiKey, order) {
      const at = Date.now();
      const account = rest.account(apiKey);
      const placed: FakeOrder = { ...order, orderStatus: 'New', updatedTime: at };
      account.orders.push(placed);
      account.totalOrderIM = orderIm(account);
      pushOrder(apiKey, placed, at);
      pushWallet(apiKey, account, at);
      return at;
    },
    cancelOrder(apiKey, orderId) {
      const at = Date.now();
      const account = rest.account(apiKey);
      const order = findOrder(account, orderId);
      account.orders = account.orders.filter((o) => o !== order);
      account.totalOrderIM = orderIm(account);
      pushOrder(apiKey, { ...order, orderStatus: 'Cancelled', updatedTime: at }, at);
      pushWallet(apiKey, account, at);
      return at;
    },
    fillOrder(apiKey, orderId) {
      const at = Date.now();
      const account = rest.account(apiKey);
      const order = findOrder(account, orderId);
      account.orders = account.orders.filter((o) => o !== order);
      const qty = Number(order.qty);
      const price = Number(order.price);
      const existing = account.positions.find((p) => p.symbol === order.symbol);
      let closedSize = 0;
      if (existing === undefined) {
        account.positions.push({ symbol: order.symbol, side: order.side, size: fixed(qty, 8), avgPrice: fixed(price), markPrice: fixed(price), unrealisedPnl: '0', updatedTime: at });
      } else if (existing.side === order.side) {
        const size = Number(existing.size) + qty;
        const entry = (Number(existing.size) * Number(existing.avgPrice) + qty * price) / size;
        Object.assign(existing, { size: fixed(size, 8), avgPrice: fixed(entry), unrealisedPnl: unrealised(existing.side, size, entry, Number(existing.markPrice)), updatedTime: at });
      } else {
        closedSize = Math.min(qty, Number(existing.size));
        const entry = Number(existing.avgPrice);
        const pnl = (existing.side === 'Buy' ? 1 : -1) * (price - entry) * closedSize;
        account.closedPnl.push({ symbol: order.symbol, side: order.side, qty: fixed(closedSize, 8), closedPnl: fixed(pnl), avgEntryPrice: fixed(entry), avgExitPrice: fixed(price), updatedTime: at });
        account.walletBalance = fixed(Number(account.walletBalance) + pnl, 2);
        account.availableToWithdraw = fixed(Number(account.availableToWithdraw) + pnl, 2);
        const left = Number(existing.size) - qty;
        if (left > 1e-12) {
          Object.assign(existing, { size: fixed(left, 8), unrealisedPnl: unrealised(existing.side, left, entry, Number(existing.markPrice)), updatedTime: at });
        } else if (left < -1e-12) {
          Object.assign(existing, { side: order.side, size: fixed(-left, 8), avgPrice: fixed(price), unrealisedPnl: '0', updatedTime: at });
        } else {
          account.positions = account.positions.filter((p) => p !== existing);
        }
      }
      account.totalOrderIM = orderIm(account);
      pushOrder(apiKey, { ...order, orderStatus: 'Filled', leavesQty: '0', cumExecQty: order.qty, updatedTime: at }, at);
      push(apiKey, 'execution', [{
        category: 'linear', symbol: order.symbol, isLeverage: '', orderId: order.orderId, orderLinkId: '', side: order.side,
        orderPrice: order.price, orderQty: order.qty, leavesQty: '0', createType: 'CreateByUser', orderType: 'Limit', stopOrderType: '',
        execFee: fixed(qty * price * 0.0002), execId: randomUUID(), execPrice: order.price, execQty: order.qty, execType: 'Trade',
        execValue: fixed(qty * price), execTime: String(at), isMaker: true, feeRate: '0.0002', tradeIv: '', markIv: '',
        markPrice: order.price, indexPrice: '', underlyingPrice: '', blockTradeId: '', closedSize: fixed(closedSize, 8), seq: at,
      }], at);
      pushPositions(apiKey, account, order.symbol, at);
      pushWallet(apiKey, account, at);
      return at;
    },
    moveMarkPrice(apiKey, symbol, markPrice) {
      const at = Date.now();
      const account = rest.account(apiKey);
      for (const position of account.positions.filter((p) => p.symbol === symbol)) {
        position.markPrice = fixed(markPrice);
        position.unrealisedPnl = unrealised(position.side, Number(position.size), Number(position.avgPrice), markPrice);
        position.updatedTime = at;
      }
      pushPositions(apiKey, account, symbol, at);
      return at;
    },
    setWallet(apiKey, walletBalance, availableToWithdraw) {
      const at = Date.now();
      const account = rest.account(apiKey);
      account.walletBalance = fixed(walletBalance, 2);
      account.availableToWithdraw = fixed(availableToWithdraw, 2);
      pushWallet(apiKey, account, at);
      return at;
    },
    close: () => socket.close(),
  };
}
