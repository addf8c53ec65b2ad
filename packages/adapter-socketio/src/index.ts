export { createSocketIoAdapter, socketioAdapter } from './adapter.js';
export { defaultSocketIoConfig, socketioConfig } from './config.js';
export type { SocketIoConfig } from './config.js';
export { connectErrorOf, errorEvent, errorEventOf, errorTable } from './errors.js';
export type { ConnectError, ProtocolErrorCode } from './errors.js';
export {
  MAX_TYPE_ITEMS,
  connectedSchema,
  errorEventSchema,
  inboundEvents,
  legacyTimestampSchema,
  pushSchemas,
  requestFailedSchema,
  requestedTypes,
  subscribedSchema,
  subscriptionRequestSchema,
  unsubscribedSchema,
} from './schema.js';
export type {
  ConnectedPayload,
  ErrorEventPayload,
  InboundEvent,
  PushPayload,
  RequestFailedPayload,
  RequestedTypes,
  ServerToClientEvents,
  SubscribedPayload,
  SubscriptionRequest,
  UnsubscribedPayload,
} from './schema.js';
export { createTimestampFormatter } from './timestamp.js';
