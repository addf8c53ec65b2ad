export { SAMPLE_RECORDING, replayConfig } from './config.js';
export { REPLAY_SOURCE, replaySource } from './source.js';
export { ReplayPlayer } from './player.js';
export { formatOfFile, parseRecordTime, parseRecording } from './records.js';
export type { ReplayFormat, TickRecord } from './records.js';
