import { describe, expect, it } from 'vitest';
import { gatewayEndpointLines } from './startup-lines.js';

describe('gatewayEndpointLines', () => {
  it('says where the console and every endpoint are, as URLs that work from this host', () => {
    expect(gatewayEndpointLines({ scheme: 'http', host: '0.0.0.0', ports: [8080], adminTokenSet: false })).toEqual([
      'console: http://localhost:8080/ (ADMIN_TOKEN unset: from this host only)',
      'trading (Socket.IO): http://localhost:8080/socket.io/',
      'stock prices (WebSocket): ws://localhost:8080/ws/stock/prices',
      'signals (WebSocket): ws://localhost:8080/ws/signals and ws://localhost:8080/',
      'health: http://localhost:8080/api/health · readiness: http://localhost:8080/api/ready · metrics: http://localhost:8080/metrics',
    ]);
  });

  it('lists every port of a PORT list, keeps a specific host, and uses wss behind TLS', () => {
    const lines = gatewayEndpointLines({ scheme: 'https', host: '::1', ports: [5000, 8000], adminTokenSet: true });
    expect(lines[0]).toBe('serving every route on https://[::1]:5000, https://[::1]:8000');
    expect(lines[1]).toBe('console: https://[::1]:5000/ (sign in with ADMIN_TOKEN)');
    expect(lines[3]).toBe('stock prices (WebSocket): wss://[::1]:5000/ws/stock/prices');
  });
});
