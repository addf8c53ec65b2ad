export type { DataSource, SourceContext } from './types.js';
export { runSource } from './runner.js';
export type { RestartPolicy, RunSourceDeps } from './runner.js';
export { SourceRegistry } from './registry.js';
