export type { DataSource, SourceContext } from './types.js';
export type { PayloadSchema, TopicDeclaration, TopicKind } from '@gw/topics';
export { runSource } from './runner.js';
export type { RestartPolicy, RunSourceDeps } from './runner.js';
export { announceSource, ANNOUNCE_RENEW_MS } from './announce.js';
export { onBusReturn } from './bus-return.js';
export type { SourceAnnouncer } from './announce.js';
export { SourceRegistry } from './registry.js';
