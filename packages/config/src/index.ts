export { defineConfigSection } from './section.js';
export type { ConfigOf, ConfigSection, SectionOutput, UsedOutput, UsedSections } from './section.js';
export { ConfigError, deprecatedVariables, deprecatedVariablesIn, deprecationWarning, loadConfig, parseConfig, printableConfig } from './load.js';
export type { ConfigProblem, DeprecatedVariable, Env, ParsedConfig } from './load.js';
export { envBoolean, envInt, envList, envMs, envPortList } from './fields.js';
export { configurationMarkdown } from './docs.js';
export { environmentConfig } from './environment.js';
export type { EnvironmentConfig } from './environment.js';
