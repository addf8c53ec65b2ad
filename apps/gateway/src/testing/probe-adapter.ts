import type { AttachedAdapter, ConnectedClient, ProtocolAdapter, WebSocket } from '@gw/uws';

interface ProbeSocketData {
  client: ConnectedClient | undefined;
}

/**
 * A minimal protocol adapter used by the gateway's own tests: a WebSocket echo at `/ws/probe` that registers
 * its connections like every real adapter does, so drain, TLS and the client registry can be tested before
 * (and independently of) the real protocols.
 */
export const probeAdapter: ProtocolAdapter = {
  protocol: 'signals',
  attach({ app, clients, metrics, lifecycle }): AttachedAdapter {
    let nextId = 0;
    let total = 0;
    app.ws<ProbeSocketData>('/ws/probe', {
      upgrade: (res, req, context) => {
        if (lifecycle.draining) {
          res.writeStatus('503 Service Unavailable').end('draining');
          return;
        }
        res.upgrade<ProbeSocketData>(
          { client: undefined },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws: WebSocket<ProbeSocketData>) => {
        nextId += 1;
        total += 1;
        const client: ConnectedClient = {
          clientId: `probe_${nextId}`,
          protocol: 'signals',
          userId: null,
          remoteAddress: Buffer.from(ws.getRemoteAddressAsText()).toString(),
          connectedAt: new Date().toISOString(),
          messagesSent: 0,
          messagesReceived: 0,
          subscriptions: () => [],
          close: () => {
            ws.end(1001, 'going away');
          },
        };
        ws.getUserData().client = client;
        clients.add(client);
        metrics.connectionOpened('signals');
      },
      message: (ws, message) => {
        ws.send(message, false);
      },
      close: (ws) => {
        const client = ws.getUserData().client;
        if (client !== undefined) {
          clients.remove(client.clientId);
          metrics.connectionClosed('signals');
        }
      },
    });
    return {
      protocol: 'signals',
      stats: () => ({ connections: clients.countFor('signals'), total_connections: total, subscriptions: 0, messages_sent: 0, messages_received: 0 }),
      close: () => Promise.resolve(),
    };
  },
};
