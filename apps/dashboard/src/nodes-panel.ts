import { formatInteger, formatUptime, plural, UNKNOWN } from './format.js';
import { h } from './dom.js';
import { startedAtMs } from './nodes.js';
import type { GatewayNode, Readiness } from './nodes.js';

/**
 * The gateway processes: every node of the cluster when the gateway lists them (`GET /api/cluster/nodes`),
 * otherwise this node alone, from `GET /api/ready`.
 */
export class NodesPanel {
  readonly #rows: HTMLTableSectionElement;
  readonly #note: HTMLElement;

  constructor(rows: HTMLTableSectionElement, note: HTMLElement) {
    this.#rows = rows;
    this.#note = note;
  }

  showCluster(nodes: readonly GatewayNode[], thisNodeId: string | undefined, nowMs: number): void {
    this.#note.textContent = `${plural(nodes.length, 'node')} in the cluster.`;
    this.#rows.replaceChildren(...nodes.map((node) => this.#row(node, node.nodeId === thisNodeId, nowMs)));
  }

  /** The fallback while the gateway has no cluster listing: this node, with the connections counted here. */
  showThisNode(readiness: Readiness, connections: number | undefined, nowMs: number): void {
    this.#note.textContent = 'This gateway does not list cluster nodes (no /api/cluster/nodes): showing the node serving this page.';
    const node: GatewayNode = {
      nodeId: readiness.nodeId ?? UNKNOWN,
      connections,
      connectionsByProtocol: [],
      startedAt: undefined,
      draining: readiness.draining,
      details: readiness.busKind === undefined ? [] : [['bus', readiness.busKind]],
    };
    this.#rows.replaceChildren(this.#row(node, true, nowMs));
  }

  #row(node: GatewayNode, isThisNode: boolean, nowMs: number): HTMLTableRowElement {
    const breakdown = node.connectionsByProtocol.map(([protocol, count]) => `${protocol} ${count}`).join(', ');
    const details = node.details.map(([key, value]) => `${key}: ${value}`).join(', ');
    return h(
      'tr',
      { data: { node: node.nodeId }, ...(isThisNode ? { class: 'this-node' } : {}) },
      h('td', { class: 'mono', text: node.nodeId }, ...(node.draining ? [h('span', { class: 'tag', text: 'draining' })] : [])),
      h('td', { class: 'num', text: formatInteger(node.connections), data: { field: 'connections' }, ...(breakdown === '' ? {} : { title: breakdown }) }),
      h('td', { class: 'num', text: formatUptime(startedAtMs(node.startedAt), nowMs) }),
      h('td', { class: 'muted wrap', text: [breakdown, details].filter((part) => part !== '').join(' · ') || UNKNOWN }),
    );
  }
}
