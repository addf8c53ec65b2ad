export { createAdmission } from './admission.js';
export type { AdmissionOptions } from './admission.js';
export { startClusterView } from './cluster-view.js';
export type { ClusterOptions } from './cluster-view.js';
export { startBusProbe } from './bus-probe.js';
export type { BusProbe, BusProbeOptions } from './bus-probe.js';
export { mergeMemberAnswers, mergeTree, sumNumericTree } from './aggregate.js';
export type { MergeRule, MergeTreeOptions } from './aggregate.js';
export type {
  Admission,
  ClusterView,
  GatherResult,
  MemberSummary,
  MergeAnswers,
  NodeGatherResult,
  NodeSummary,
  UserSlot,
} from './types.js';
export { startPresence } from './presence.js';
export type { Presence, PresenceOptions } from './presence.js';
export { createSourceActivity } from './source-activity.js';
export type { SourceActivity, SourceStatus } from './source-activity.js';
export { WORKER_SUMMARY_INTERVAL_MS, WORKER_TOPIC_PREFIX, startWorkerPresence, startWorkerRoster } from './workers.js';
export type { WorkerListing, WorkerPresenceOptions, WorkerRoster, WorkerRosterOptions, WorkerSummary } from './workers.js';
