import { sleep } from '@gw/core';
import type { ClientRegistry, ConnectedClient } from '@gw/connections';

/** How often the paced drain wakes up to close the connections whose turn has come. */
const STEP_MS = 20;

/**
 * Closes `clients` as "going away", spread evenly over `windowMs` instead of all at once, so they do not all
 * reconnect (to the other nodes) in one storm. The first fifth of the window (at most 5 s) closes nothing:
 * readiness already answers 503, and load balancers need a moment to notice before clients come back. The
 * last client is closed at the end of the window. A client that left by itself meanwhile is skipped. Returns
 * the clients that were open when the drain began.
 */
export async function closePaced(registry: ClientRegistry, windowMs: number): Promise<readonly ConnectedClient[]> {
  const clients = [...registry.all()];
  const grace = Math.min(windowMs * 0.2, 5_000);
  const spread = windowMs - grace;
  const startedAt = Date.now();
  let next = 0;
  while (next < clients.length) {
    const elapsed = Date.now() - startedAt;
    // Client i (of n) is due at grace + spread * (i + 1) / n.
    while (next < clients.length && elapsed >= grace + (spread * (next + 1)) / clients.length) {
      const client = clients[next];
      if (client !== undefined && registry.has(client.clientId)) {
        client.close('shutdown');
      }
      next += 1;
    }
    if (next < clients.length) {
      await sleep(STEP_MS);
    }
  }
  return clients;
}
