/**
 * The messages of the three protocols, as plain types. They are written out here, rather than inferred from
 * the gateway's zod schemas, so that the published `.d.ts` stands alone: a project that installs the SDK needs
 * neither zod nor the gateway's packages to type-check. `wire-types.test-d.ts` proves every type here equal to
 * the one inferred from the gateway's schema, so a change of the wire format fails the workspace's typecheck
 * until it is made here too. They are type aliases, like inferred types, so a frame is assignable to
 * `Record<string, unknown>` (interfaces are not).
 */

// ---- Signals (`/ws/signals`)

/** What a signal says: the instrument, its price, and when (unix seconds). */
export type SignalContent = {
  symbol: string;
  price: number;
  /** Unix seconds. */
  timestamp: number;
};

/** A signal as the client receives it. `id` (`"<epoch>:<seq>"`) is absent on test signals (not in history). */
export type SignalFrame = {
  type: 'buy' | 'sell';
  content: SignalContent;
  is_test: boolean;
  id?: string | undefined;
};

/** An error frame of the signal protocol (`unknown_command`, `rate_limited`, `token_refresh_failed`, ...). */
export type SignalErrorFrame = {
  type: 'error';
  error: string;
  message: string;
  /** The specific reason (a refused refresh: `bad_signature: ...`); the message again otherwise. */
  details: string;
  /** When the server sent it, unix seconds. */
  timestamp: number;
};

// ---- In-band token refresh, the same frames on both raw WebSocket protocols (signals, stock prices)

/** Client → server: replace the connection's token (same `sub`) without reconnecting. */
export type RefreshTokenFrame = {
  type: 'refresh_token';
  token: string;
};

/** The refresh was accepted: the token's new `exp`, unix seconds (null for a token without `exp`). */
export type TokenRefreshedFrame = {
  type: 'token_refreshed';
  expires_at: number | null;
};

/** Sent once per token, `TOKEN_EXPIRY_NOTICE_S` before `exp` (at once when less remains): refresh now. */
export type TokenExpiringFrame = {
  type: 'token_expiring';
  expires_in: number;
};

/**
 * The server's report on a `?since=` connection, sent before the replayed signals; also sent mid-stream (only
 * `recovered: false`) when the node's bus connection came back and signals published meanwhile are gone.
 */
export type RecoveryFrame =
  | { type: 'recovery'; recovered: true; replayed: number; position?: string | undefined }
  | { type: 'recovery'; recovered: false; reason: string; missed_from: string | null; replayed: number };

// ---- Stock prices (`/ws/stock/prices`)

/** What a subscription follows: a strategy's buy list, one stock, or a whole market. */
export type SubscriptionType = 'strategy' | 'stock' | 'market';

/** One stock's quote. `timestamp` is `YYYY-MM-DDTHH:mm:ss`, Asia/Shanghai wall-clock time. */
export type PriceItem = {
  /** Six digits, e.g. `600519`. */
  code: string;
  name: string;
  price: number;
  change: number;
  change_percent: number;
  volume: number;
  timestamp: string;
};

export type PriceUpdateFrame = {
  type: 'price_update';
  data: PriceItem[];
  count: number;
  timestamp: string;
};

export type ConnectedFrame = {
  type: 'connected';
  /** `client_<hex>` */
  client_id: string;
  message: 'WebSocket连接成功';
  timestamp: string;
};

export type SubscribedFrame = {
  type: 'subscribed';
  subscription_type: SubscriptionType;
  target: string;
  message: '订阅成功';
  timestamp: string;
  /** Accepted, but no running source serves the target now: prices arrive once one does. */
  warning?: { code: 'no_source'; message: string } | undefined;
};

export type UnsubscribedFrame = {
  type: 'unsubscribed';
  subscription_type: SubscriptionType;
  target: string;
  message: '取消订阅成功';
  timestamp: string;
};

export type PongFrame = {
  type: 'pong';
  timestamp: string;
};

/** An error frame of the stock protocol (`unknown_stock`, `unknown_strategy`, `rate_limited`, ...). */
export type StockErrorFrame = {
  type: 'error';
  error: string;
  details: string;
  timestamp: string;
};

/** Every frame the stock protocol sends. */
export type StockServerFrame =
  | ConnectedFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | PongFrame
  | PriceUpdateFrame
  | StockErrorFrame
  | TokenRefreshedFrame
  | TokenExpiringFrame;

// ---- Trading (Socket.IO)

/** The four data types of the trading protocol. */
export type TradingType = 'balance' | 'positions' | 'pnl' | 'orders';

/** `balance_update.data`: the account's balance in its settlement currency (USDT). */
export type Balance = {
  total_balance: number;
  available_balance: number;
  used_margin: number;
};

/** One open position: `side` `Buy` (long) or `Sell` (short). */
export type Position = {
  symbol: string;
  side: 'Buy' | 'Sell';
  size: number;
  entry_price: number;
  mark_price: number;
  unrealized_pnl: number;
};

/** `pnl_update.data`. */
export type Pnl = {
  total_pnl: number;
  today_pnl: number;
  unrealized_pnl: number;
  realized_pnl: number;
};

/** One open (resting) order; `status` as the exchange reports it (`New`, `PartiallyFilled`, ...). */
export type Order = {
  order_id: string;
  symbol: string;
  side: 'Buy' | 'Sell';
  quantity: number;
  price: number;
  status: string;
};

/** The `data` of each type's push. */
export type TradingData = {
  balance: Balance;
  positions: Position[];
  pnl: Pnl;
  orders: Order[];
};

/** The Socket.IO event that carries each type. */
export type TradingEvents = {
  readonly balance: 'balance_update';
  readonly positions: 'positions_update';
  readonly pnl: 'pnl_update';
  readonly orders: 'orders_update';
};

/** A data push of one type: `{"type": "<event>", "data": ..., "timestamp", "user_id"}`. */
export type PushPayload<T extends TradingType = TradingType> = {
  type: TradingEvents[T];
  data: TradingData[T];
  timestamp: string;
  user_id: number | string;
};

/** `connected`, once per connection. */
export type ConnectedPayload = {
  message: '连接成功';
  user_id: number | string;
  authenticated: true;
};

/** `subscribed`, and the acknowledgement of `subscribe_trading`; `subscriptions` is everything now subscribed. */
export type SubscribedPayload = {
  status: 'success';
  types: TradingType[];
  user_id: number | string;
  subscriptions: TradingType[];
};

/** `unsubscribed`, and the acknowledgement of `unsubscribe_trading`. */
export type UnsubscribedPayload = {
  status: 'success';
  types: TradingType[];
  user_id: number | string;
  subscriptions: TradingType[];
};

/** `error`: `code` for programs, `message` for people, and extra fields per code. */
export type ErrorEventPayload = {
  code: string;
  message: string;
  [field: string]: unknown;
};

/** The acknowledgement of a request the server could not read at all. */
export type RequestFailedPayload = {
  status: 'error';
  code: string;
  message: string;
  [field: string]: unknown;
};

/** `token_refreshed`, and the acknowledgement of an accepted `refresh_token`: the new `exp`, unix seconds. */
export type TokenRefreshedPayload = {
  status: 'success';
  expires_at: number | null;
};

/** `token_expiring`: sent once per token before `exp`; send `refresh_token` within `expires_in` seconds. */
export type TokenExpiringPayload = {
  expires_in: number;
};

/** Server → client events of the trading protocol. */
export type TradingServerEvents = {
  connected: (payload: ConnectedPayload) => void;
  subscribed: (payload: SubscribedPayload) => void;
  unsubscribed: (payload: UnsubscribedPayload) => void;
  error: (payload: ErrorEventPayload) => void;
  token_refreshed: (payload: TokenRefreshedPayload) => void;
  token_expiring: (payload: TokenExpiringPayload) => void;
  balance_update: (payload: PushPayload<'balance'>) => void;
  positions_update: (payload: PushPayload<'positions'>) => void;
  pnl_update: (payload: PushPayload<'pnl'>) => void;
  orders_update: (payload: PushPayload<'orders'>) => void;
};
