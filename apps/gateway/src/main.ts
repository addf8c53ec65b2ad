import { builtInAdapters } from './adapters.js';
import { exitOnStartupError, runGatewayProcess } from './process.js';

/** Entry point of `pnpm gateway`: the gateway process with every built-in protocol adapter. */
runGatewayProcess({ adapters: builtInAdapters }).catch(exitOnStartupError);
