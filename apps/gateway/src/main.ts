import cluster from 'node:cluster';
import { deprecatedVariablesIn, deprecationWarning } from '@gw/config';
import { builtInSources, sourceSections } from '@gw/runtime';
import { adapterSections, builtInAdapters } from './adapters.js';
import { gatewaySections } from './config.js';
import { exitOnStartupError, runGatewayProcess } from './process.js';
import { gatewayEndpointLines } from './startup-lines.js';

// Former setting names still work for one release: say so once, at start, for each one that is set (by the
// node's first process only: the event loops of a node of several run this file too).
for (const renamed of cluster.isPrimary ? deprecatedVariablesIn(process.env, { ...gatewaySections, ...adapterSections, ...sourceSections(builtInSources()) }) : []) {
  console.warn(`gateway: warning: ${deprecationWarning(renamed)}`);
}

/**
 * After a start, where everything is, as the first lines after "gateway listening", written by the process's own
 * logger (one writer: the lines keep their order and the format LOG_FORMAT chose).
 */
runGatewayProcess({
  adapters: (config) => builtInAdapters(config),
  started: ({ logger, config, ports }) => {
    const lines = gatewayEndpointLines({
      scheme: config.server.tlsCertFile === undefined ? 'http' : 'https',
      host: config.server.host,
      // The bound ports (PORT=0 lets the kernel pick one).
      ports,
      adminTokenSet: config.auth.adminToken !== undefined,
    });
    for (const line of lines) {
      logger.info(line);
    }
  },
}).catch(exitOnStartupError);
