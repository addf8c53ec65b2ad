import './style.css';
import { getJson, poll } from './api.js';
import { byId } from './dom.js';
import { NodesPanel } from './nodes-panel.js';
import { clusterNodesOf, readinessOf } from './nodes.js';
import { PriceBoardPanel } from './price-board-panel.js';
import { settingsFrom } from './settings.js';
import { SignalFeedPanel } from './signal-feed-panel.js';
import { protocolCountersOf } from './stats.js';
import { TrafficPanel } from './traffic-panel.js';

/** How often the page asks the gateway: stats for the rates, node list and readiness. */
const STATS_INTERVAL_MS = 2_000;
const NODES_INTERVAL_MS = 5_000;

const settings = settingsFrom(window.location.search);

const traffic = new TrafficPanel(byId('protocols', HTMLElement));
const nodes = new NodesPanel(byId('node-rows', HTMLTableSectionElement), byId('nodes-note', HTMLElement));
const prices = new PriceBoardPanel(
  {
    form: byId('strategy-form', HTMLFormElement),
    strategyInput: byId('strategy', HTMLInputElement),
    state: byId('price-state', HTMLElement),
    summary: byId('price-summary', HTMLElement),
    rows: byId('price-rows', HTMLTableSectionElement),
  },
  settings.strategy,
  settings.token,
);
const signals = new SignalFeedPanel(
  {
    form: byId('token-form', HTMLFormElement),
    tokenInput: byId('token', HTMLInputElement),
    testButton: byId('send-test', HTMLButtonElement),
    state: byId('signal-state', HTMLElement),
    note: byId('signal-note', HTMLElement),
    rows: byId('signal-rows', HTMLOListElement),
  },
  settings.token,
  (token) => {
    prices.setToken(token);
  },
);
const gatewayState = byId('gateway-state', HTMLElement);
const nodeSummary = byId('node-summary', HTMLElement);

/** Connections open on this node, summed over protocols: the node list's fallback row shows it. */
let localConnections: number | undefined;

poll(STATS_INTERVAL_MS, async () => {
  try {
    const reply = await getJson('/api/websocket/stats');
    if (reply.status !== 200 || reply.body === undefined) {
      throw new Error(`HTTP ${reply.status}`);
    }
    const protocols = protocolCountersOf(reply.body);
    traffic.update(protocols, Date.now());
    traffic.setStale(false);
    localConnections = [...protocols.values()].reduce((sum, p) => sum + (p.connections ?? 0), 0);
  } catch {
    traffic.setStale(true);
  }
});

/** Gateways from before the scale-out work have no `/api/cluster/nodes`: after its 404 the page stops asking. */
let clusterListing: 'unknown' | 'present' | 'missing' = 'unknown';

poll(NODES_INTERVAL_MS, async () => {
  const readiness = await getJson('/api/ready').then(
    (reply) => readinessOf(reply.status, reply.body),
    () => undefined,
  );
  if (readiness === undefined) {
    gatewayState.textContent = 'unreachable';
    gatewayState.dataset['state'] = 'down';
    return;
  }
  gatewayState.textContent = readiness.ready ? 'ready' : `not ready: ${readiness.reason ?? ''}`;
  gatewayState.dataset['state'] = readiness.ready ? 'up' : 'down';
  nodeSummary.textContent = `node ${readiness.nodeId ?? '?'}${readiness.busKind === undefined ? '' : ` · ${readiness.busKind} bus`}`;

  if (clusterListing !== 'missing') {
    const reply = await getJson('/api/cluster/nodes');
    if (reply.status === 200 && reply.body !== undefined) {
      clusterListing = 'present';
      nodes.showCluster(clusterNodesOf(reply.body), readiness.nodeId, Date.now());
      return;
    }
    if (reply.status === 404) {
      clusterListing = 'missing';
    }
  }
  nodes.showThisNode(readiness, localConnections, Date.now());
});

prices.start();
signals.start();
