/**
 * @gw/client: the gateway's client SDK, for browsers and Node. One client per protocol; each reconnects by
 * itself with exponential backoff, asks `getToken` before every attempt, and restores its subscriptions.
 * Message types are plain declarations, proven equal to the gateway's own schemas by the workspace typecheck.
 */
export type { ReconnectOptions } from './backoff.js';
export type { Listener } from './emitter.js';
export { GatewayClientError } from './errors.js';
export type { ClientErrorCode, ClientErrorSource } from './errors.js';
export type { ClientState, DisconnectInfo, ReconnectingInfo, TokenRefreshedInfo } from './lifecycle.js';
export type { WebSocketClientOptions } from './reconnecting-websocket.js';
export { SignalsClient } from './signals.js';
export type { SignalRecovery, SignalsClientOptions, SignalsConnected } from './signals.js';
export { StockPricesClient } from './stock.js';
export type { StockPricesClientOptions, StockTarget } from './stock.js';
export type { TokenProvider } from './token.js';
export { TradingClient, tradingTypes } from './trading.js';
export type { TradingClientOptions } from './trading.js';
export type { TokenPlacement, WebSocketConstructor, WebSocketLike } from './websocket.js';
export type {
  Balance,
  ConnectedFrame,
  ConnectedPayload,
  ErrorEventPayload,
  Order,
  Pnl,
  PongFrame,
  Position,
  PriceItem,
  PriceUpdateFrame,
  PushPayload,
  RecoveryFrame,
  RefreshTokenFrame,
  SignalContent,
  SignalErrorFrame,
  SignalFrame,
  StockErrorFrame,
  StockServerFrame,
  SubscribedFrame,
  SubscribedPayload,
  SubscriptionType,
  TokenExpiringFrame,
  TokenExpiringPayload,
  TokenRefreshedFrame,
  TokenRefreshedPayload,
  TradingData,
  TradingType,
  UnsubscribedFrame,
  UnsubscribedPayload,
} from './wire-types.js';
