import { deprecatedVariablesIn, deprecationWarning } from '@gw/config';
import { createLogger } from '@gw/core';
import { builtInSources, sourceSections } from '@gw/runtime';
import { adapterSections, builtInAdapters } from './adapters.js';
import { gatewaySections, loadGatewayConfig } from './config.js';
import { exitOnStartupError, runGatewayProcess } from './process.js';
import { gatewayEndpointLines } from './startup-lines.js';

// Former setting names still work for one release: say so once, at start, for each one that is set.
for (const renamed of deprecatedVariablesIn(process.env, { ...gatewaySections, ...adapterSections, ...sourceSections(builtInSources()) })) {
  console.warn(`gateway: warning: ${deprecationWarning(renamed)}`);
}

/**
 * After a start, where everything is, as the first lines after "gateway listening". Read from the same
 * environment the process started from (it was validated then); only called when a gateway really started.
 */
function logEndpoints(): void {
  const config = loadGatewayConfig(process.env, {});
  const logger = createLogger({ level: config.process.logLevel, format: config.process.logFormat, name: 'gateway' });
  const lines = gatewayEndpointLines({
    scheme: config.server.tlsCertFile === undefined ? 'http' : 'https',
    host: config.server.host,
    ports: config.server.ports,
    adminTokenSet: config.auth.adminToken !== undefined,
  });
  for (const line of lines) {
    logger.info(line);
  }
}

/** Entry point of `pnpm gateway`: the gateway process with every built-in protocol adapter. */
let started = false;
runGatewayProcess({
  // Called once the configuration is loaded and the gateway is being built (never for --help or --print-config).
  adapters: (config) => {
    started = true;
    return builtInAdapters(config);
  },
}).then(() => {
  if (started) {
    logEndpoints();
  }
}, exitOnStartupError);
