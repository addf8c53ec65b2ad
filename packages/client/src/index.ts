/**
 * @gw/client: the gateway's client SDK, for browsers and Node. One client per protocol; each reconnects by
 * itself with exponential backoff, asks `getToken` before every attempt, and restores its subscriptions.
 * Message types come from the server's own zod schemas (type-only imports: no server code in a bundle).
 */
export type { ReconnectOptions } from './backoff.js';
export type { Listener } from './emitter.js';
export { GatewayClientError } from './errors.js';
export type { ClientErrorCode, ClientErrorSource } from './errors.js';
export type { ClientState, DisconnectInfo, ReconnectingInfo } from './lifecycle.js';
export type { WebSocketClientOptions } from './reconnecting-websocket.js';
export { SignalsClient } from './signals.js';
export type { RecoveryFrame, SignalErrorFrame, SignalFrame, SignalRecovery, SignalsClientOptions, SignalsConnected } from './signals.js';
export { StockPricesClient } from './stock.js';
export type {
  ConnectedFrame,
  PongFrame,
  PriceItem,
  PriceUpdateFrame,
  StockErrorFrame,
  StockPricesClientOptions,
  StockTarget,
  SubscribedFrame,
  SubscriptionType,
  UnsubscribedFrame,
} from './stock.js';
export type { TokenProvider } from './token.js';
export { TradingClient, tradingTypes } from './trading.js';
export type {
  Balance,
  ConnectedPayload,
  ErrorEventPayload,
  Order,
  Pnl,
  Position,
  PushPayload,
  SubscribedPayload,
  TradingClientOptions,
  TradingType,
  UnsubscribedPayload,
} from './trading.js';
export type { TokenPlacement, WebSocketConstructor, WebSocketLike } from './websocket.js';
