import { createSocketIoAdapter, socketioConfig } from '@gw/adapter-socketio';
import { loadConfig } from '@gw/config';
import { exitOnStartupError, runGatewayProcess } from '../../process.js';

/**
 * A real gateway process with only the Socket.IO trading adapter (settings from SOCKETIO_*), for the cluster
 * tests: on the Redis bus it runs no source (workers do), so a user watched here is polled by another process.
 */
runGatewayProcess({
  adapters: () => [createSocketIoAdapter(loadConfig(process.env, { socketio: socketioConfig }).socketio)],
}).catch(exitOnStartupError);
