export type {
  Bus,
  BusConnection,
  BusNode,
  BusState,
  Envelope,
  History,
  HistoryOptions,
  HistoryRead,
  Interest,
  InterestChange,
  InterestLease,
  LatestValues,
  MessageHandler,
  PubSub,
  SubscribeOptions,
  Subscription,
} from './types.js';
export { compareMessageIds, createEpoch, formatMessageId, parseMessageId } from './ids.js';
export type { MessageId } from './ids.js';
export { assertTopic, isValidTopic, parseTopicPattern } from './topics.js';
export type { TopicPattern } from './topics.js';
export { recoverThenFollow } from './recover.js';
export type { FollowedSubscription, RecoverOptions, RecoveryOutcome } from './recover.js';
export { whenConnected } from './connection.js';
