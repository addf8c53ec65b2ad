export { runSourceConformance } from './conformance.js';
export { checkBusOutage, checkDeclaration, checkPublishing, checkStopping, checkUpstreamFailure } from './checks.js';
export { defaultTiming } from './fixture.js';
export type { ConformanceOptions, ConformanceTiming, SourceFixture, SourceFixtureFactory, UpstreamControl } from './fixture.js';
export { observeBus } from './observed-bus.js';
export type { BusCall, BusMethod, ObserveBusOptions, ObservedBus, Publication } from './observed-bus.js';
export { TopicContract, declarationProblems, schemasOf } from './topic-schemas.js';
export type { PayloadProblem, PayloadSchema, TopicSchemas } from './topic-schemas.js';
export { startTestSource, stopTestSources } from './run-source.js';
