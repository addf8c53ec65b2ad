/**
 * The bench harness as a library (its tests and other tools use these); `pnpm bench` runs `main.ts`.
 */
export { parseBenchArgs, usage } from './cli.js';
export type { BenchOptions } from './cli.js';
export { histogramDelta, parseExposition, scrape, sumOf } from './prometheus.js';
export type { HistogramDelta, LabelFilter, MetricSample } from './prometheus.js';
export { categoryOf, summarize, summarizeProfiles } from './profile.js';
export type { CpuProfile, ProfileSummary, ProfileWindow } from './profile.js';
export { RssRecorder, rssTrend, sampleProc } from './proc.js';
export { renderReport, displayCommand, keptAnalysis } from './report.js';
export type { Row } from './row.js';
export { runBench } from './runner.js';
export type { RunOutcome } from './runner.js';
export { scenarios, selectScenarios } from './scenarios/index.js';
export { renderTable } from './table.js';
export { evaluateTargets, renderTargets } from './targets.js';
export { buildWsload, parseWsloadOutput, runWsload } from './wsload.js';
export type { WsloadResult, WsloadRun } from './wsload.js';
