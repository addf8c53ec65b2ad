import { exitOnStartupError, runGatewayProcess } from '../process.js';
import { probeAdapter } from './probe-adapter.js';

/** The real gateway process with the probe adapter attached: what the process-level tests spawn. */
runGatewayProcess({ adapters: () => [probeAdapter] }).catch(exitOnStartupError);
