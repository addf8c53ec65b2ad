/**
 * Building blocks for Bus implementations (`@gw/bus-memory`, `@gw/bus-redis`). Not for applications: they
 * use the `Bus` interface from `@gw/bus`.
 */
export { LocalSubscription, SubscriptionGroup, WITH_LATEST_BUFFER_LIMIT, newSubscription } from './delivery.js';
export type { NewSubscription } from './delivery.js';
export { assertHistoryOptions, sincePublishedAtOf, sinceSeqFor, toHistoryRead } from './history.js';
export type { StoredRead } from './history.js';
export { reportToLog } from './report.js';
