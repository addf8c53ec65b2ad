export type {
  AppendOptions,
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
  ReadSinceOptions,
  SubscribeOptions,
  Subscription,
} from './types.js';
export { compareMessageIds, createEpoch, formatMessageId, parseMessageId } from './ids.js';
export type { MessageId } from './ids.js';
export { assertTopic, isValidTopic, parseTopicPattern } from './topics.js';
export type { TopicPattern } from './topics.js';
export { BusChannel } from './channel.js';
export type { BusChannelOptions } from './channel.js';
export { whenConnected } from './connection.js';
