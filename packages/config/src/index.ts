export { defineConfigSection } from './section.js';
export type { ConfigOf, ConfigSection, SectionOutput } from './section.js';
export { ConfigError, loadConfig, printableConfig } from './load.js';
export type { ConfigProblem, Env } from './load.js';
export { envBoolean, envInt, envList, envMs, envPortList } from './fields.js';
export { configurationMarkdown } from './docs.js';
