export { createSignalsAdapter } from './adapter.js';
export { signalsAdapterConfig } from './config.js';
export type { SignalsAdapterConfig } from './config.js';
export { errorFrameSchema, publishSignalBodySchema, recoveryFrameSchema, signalFrameSchema } from './schema.js';
export type { ErrorFrame, PublishSignalBody, RecoveryFrame, SignalFrame } from './schema.js';
