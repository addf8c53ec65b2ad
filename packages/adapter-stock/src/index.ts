export { createStockAdapter } from './adapter.js';
export { stockAdapterConfig } from './config.js';
export type { StockAdapterConfig } from './config.js';
export { errorFrame, stockErrorCodes } from './errors.js';
export type { StockErrorCode } from './errors.js';
export {
  connectedFrameSchema,
  errorFrameSchema,
  pingSchema,
  pongFrameSchema,
  priceUpdateFrameSchema,
  refreshTokenFrameSchema,
  subscribedFrameSchema,
  subscriptionRequestSchema,
  tokenExpiringFrameSchema,
  tokenRefreshedFrameSchema,
  unsubscribedFrameSchema,
} from './schema.js';
export type { ErrorFrame, PriceItem, PriceUpdateFrame, ServerFrame, SubscriptionRequest, SubscriptionType } from './schema.js';
