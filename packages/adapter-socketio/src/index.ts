export { createSocketIoAdapter } from './adapter.js';
export { socketioConfig } from './config.js';
export type { SocketIoConfig } from './config.js';
export type { ConnectError, ProtocolErrorCode } from './errors.js';
export {
  connectedSchema,
  errorEventSchema,
  inboundEvents,
  pushSchemas,
  requestFailedSchema,
  subscribedSchema,
  subscriptionRequestSchema,
  tokenExpiringSchema,
  tokenRefreshedSchema,
  unsubscribedSchema,
} from './schema.js';
export type {
  ConnectedPayload,
  ErrorEventPayload,
  PushPayload,
  RequestFailedPayload,
  ServerToClientEvents,
  SubscribedPayload,
  SubscriptionRequest,
  UnsubscribedPayload,
} from './schema.js';
