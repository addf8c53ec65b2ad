import type { AttachedAdapter, ProtocolAdapter } from '@gw/connections';

/**
 * A minimal protocol used by the gateway's own tests: a WebSocket echo at `/ws/probe` (no token) served by the
 * connection pipeline like every real raw WebSocket protocol, so drain, TLS, the client registry and the
 * pipeline itself can be tested independently of the real protocols. `/ws/probe-auth` is the same echo with a
 * token required; a text frame `throw` makes its handler throw (the exception boundary's test).
 */
export const probeAdapter: ProtocolAdapter = {
  protocol: 'signals',
  attach({ connections }): AttachedAdapter {
    let nextId = 0;
    const serve = (path: string, auth: 'none' | 'required') =>
      connections.serveWebSocket<undefined>({
        protocol: 'signals',
        paths: [path],
        auth,
        limits: { maxFrameBytes: 65_536, messagesPerSecond: 20, messageBurst: 250, maxBufferedBytes: 1_048_576, slowConsumerGraceMs: 0, idleTimeoutSec: 120 },
        newClientId: () => {
          nextId += 1;
          return `probe_${nextId}`;
        },
        prepare: () => undefined,
        open: (connection) => ({
          onMessage: (text) => {
            if (text === 'throw') {
              throw new Error('probe handler failure');
            }
            connection.send(text);
          },
          subscriptions: () => [],
        }),
        errorFrame: (code, message) => JSON.stringify({ type: 'error', error: code, message }),
      });
    const open = serve('/ws/probe', 'none');
    const authed = serve('/ws/probe-auth', 'required');
    return {
      protocol: 'signals',
      stats: () => ({
        connections: open.connections + authed.connections,
        total_connections: open.totalConnections + authed.totalConnections,
        subscriptions: 0,
        messages_sent: 0,
        messages_received: open.messagesReceived + authed.messagesReceived,
      }),
      close: () => Promise.resolve(),
    };
  },
};
