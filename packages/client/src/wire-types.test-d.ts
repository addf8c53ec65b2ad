/**
 * Compile-time proof that the SDK's message types (wire-types.ts) are exactly the types the gateway infers from
 * its zod schemas. Checked by the workspace typecheck (`pnpm typecheck`, part of `pnpm test`): any difference
 * is a type error here. The build leaves this file out, so the published SDK never refers to the gateway.
 */
import { expectTypeOf } from 'vitest';
import type * as Signals from '@gw/adapter-signals';
import type * as Trading from '@gw/adapter-socketio';
import type * as Stock from '@gw/adapter-stock';
import type * as Topics from '@gw/topics';
import type * as Sdk from './wire-types.js';

// Signals
expectTypeOf<Sdk.SignalFrame>().toEqualTypeOf<Signals.SignalFrame>();
expectTypeOf<Sdk.SignalErrorFrame>().toEqualTypeOf<Signals.ErrorFrame>();
expectTypeOf<Sdk.RecoveryFrame>().toEqualTypeOf<Signals.RecoveryFrame>();

// In-band token refresh (raw WebSocket protocols)
expectTypeOf<Sdk.TokenRefreshedFrame>().toEqualTypeOf<Extract<Stock.ServerFrame, { type: 'token_refreshed' }>>();
expectTypeOf<Sdk.TokenExpiringFrame>().toEqualTypeOf<Extract<Stock.ServerFrame, { type: 'token_expiring' }>>();

// Stock prices
expectTypeOf<Sdk.SubscriptionType>().toEqualTypeOf<Stock.SubscriptionType>();
expectTypeOf<Sdk.PriceItem>().toEqualTypeOf<Stock.PriceItem>();
expectTypeOf<Sdk.PriceUpdateFrame>().toEqualTypeOf<Stock.PriceUpdateFrame>();
expectTypeOf<Sdk.StockErrorFrame>().toEqualTypeOf<Stock.ErrorFrame>();
expectTypeOf<Sdk.StockServerFrame>().toEqualTypeOf<Stock.ServerFrame>();
expectTypeOf<Sdk.ConnectedFrame>().toEqualTypeOf<Extract<Stock.ServerFrame, { type: 'connected' }>>();
expectTypeOf<Sdk.SubscribedFrame>().toEqualTypeOf<Extract<Stock.ServerFrame, { type: 'subscribed' }>>();
expectTypeOf<Sdk.UnsubscribedFrame>().toEqualTypeOf<Extract<Stock.ServerFrame, { type: 'unsubscribed' }>>();
expectTypeOf<Sdk.PongFrame>().toEqualTypeOf<Extract<Stock.ServerFrame, { type: 'pong' }>>();

// Trading
expectTypeOf<Sdk.TradingType>().toEqualTypeOf<Topics.TradingType>();
expectTypeOf<Sdk.Balance>().toEqualTypeOf<Topics.Balance>();
expectTypeOf<Sdk.Position>().toEqualTypeOf<Topics.Position>();
expectTypeOf<Sdk.Pnl>().toEqualTypeOf<Topics.Pnl>();
expectTypeOf<Sdk.Order>().toEqualTypeOf<Topics.Order>();
expectTypeOf<Sdk.TradingData>().toEqualTypeOf<Topics.TradingData>();
expectTypeOf<Sdk.TradingEvents>().toEqualTypeOf<typeof Topics.tradingEvents>();
expectTypeOf<Sdk.PushPayload<'balance'>>().toEqualTypeOf<Trading.PushPayload<'balance'>>();
expectTypeOf<Sdk.PushPayload<'positions'>>().toEqualTypeOf<Trading.PushPayload<'positions'>>();
expectTypeOf<Sdk.PushPayload<'pnl'>>().toEqualTypeOf<Trading.PushPayload<'pnl'>>();
expectTypeOf<Sdk.PushPayload<'orders'>>().toEqualTypeOf<Trading.PushPayload<'orders'>>();
expectTypeOf<Sdk.PushPayload>().toEqualTypeOf<Trading.PushPayload>();
expectTypeOf<Sdk.ConnectedPayload>().toEqualTypeOf<Trading.ConnectedPayload>();
expectTypeOf<Sdk.SubscribedPayload>().toEqualTypeOf<Trading.SubscribedPayload>();
expectTypeOf<Sdk.UnsubscribedPayload>().toEqualTypeOf<Trading.UnsubscribedPayload>();
expectTypeOf<Sdk.ErrorEventPayload>().toEqualTypeOf<Trading.ErrorEventPayload>();
expectTypeOf<Sdk.RequestFailedPayload>().toEqualTypeOf<Trading.RequestFailedPayload>();
expectTypeOf<Sdk.TradingServerEvents>().toEqualTypeOf<Trading.ServerToClientEvents>();
expectTypeOf<Sdk.TokenRefreshedPayload>().toEqualTypeOf<Parameters<Trading.ServerToClientEvents['token_refreshed']>[0]>();
expectTypeOf<Sdk.TokenExpiringPayload>().toEqualTypeOf<Parameters<Trading.ServerToClientEvents['token_expiring']>[0]>();
