export { gatewaySections, loadGatewayConfig, serverConfig } from './config.js';
export type { GatewayConfig } from './config.js';
export { startGateway } from './gateway.js';
export type { Gateway, GatewayOptions } from './gateway.js';
