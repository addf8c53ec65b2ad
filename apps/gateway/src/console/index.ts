export { registerConsoleRoutes } from './routes.js';
export type { ConsoleDeps } from './routes.js';
export type { HistogramFigures, NodeReport, ProtocolFigures } from './node-report.js';
export type { ConsoleSnapshot, SourceHealth, SourceRow } from './snapshot.js';
