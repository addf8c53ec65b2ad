export { volumeWaveConfig } from './config.js';
export { VOLUME_WAVE_SOURCE, VOLUME_WAVE_STRATEGY, volumeWaveSource } from './source.js';
export { VolumeWaveBook, buyRatio, defaultVolumeWaveParams, exitReason } from './rule.js';
export type { ExitReason, Holding, Transition, VolumeWaveParams } from './rule.js';
