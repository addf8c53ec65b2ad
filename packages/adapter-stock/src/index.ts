export { STOCK_WS_PATH, createStockAdapter } from './adapter.js';
export { stockAdapterConfig } from './config.js';
export type { StockAdapterConfig } from './config.js';
export { errorFrame, stockCloseCodes, stockErrorCodeSchema, stockErrorCodes, stockErrorDetails } from './errors.js';
export type { StockErrorCode } from './errors.js';
export {
  clientMessageSchema,
  connectedFrameSchema,
  errorFrameSchema,
  pingSchema,
  pongFrameSchema,
  priceItemSchema,
  priceUpdateFrameSchema,
  serverFrameSchema,
  subscribedFrameSchema,
  subscriptionRequestSchema,
  subscriptionTypeSchema,
  subscriptionTypes,
  unsubscribedFrameSchema,
} from './schema.js';
export type { ClientMessage, ErrorFrame, PriceItem, PriceUpdateFrame, ServerFrame, SubscriptionRequest, SubscriptionType } from './schema.js';
export type { LegacyStats } from './hub.js';
