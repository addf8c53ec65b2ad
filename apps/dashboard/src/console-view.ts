import { LineChart } from './chart.js';
import { h } from './dom.js';
import { UNKNOWN, formatInteger, formatRate, formatUptime } from './format.js';
import { SampleHistory } from './history.js';
import { RateMeter } from './rates.js';
import { PROTOCOL_ORDER, bucketsSince, quantile } from './snapshot.js';
import type { Buckets, ProtocolFigures, Snapshot } from './snapshot.js';

/** The row key of the cluster's totals, next to the node ids. */
export const CLUSTER = 'cluster';

/** Charts cover the last ten minutes. */
const CHART_WINDOW_MS = 10 * 60_000;

export interface ConsoleElements {
  servedBy: HTMLElement;
  clusterNote: HTMLElement;
  protocolRows: HTMLTableSectionElement;
  busRows: HTMLTableSectionElement;
  authRows: HTMLTableSectionElement;
  errorRows: HTMLTableSectionElement;
  closeRows: HTMLTableSectionElement;
  sourceRows: HTMLTableSectionElement;
  workerRows: HTMLTableSectionElement;
  charts: HTMLElement;
}

/** `0.0123` s → `12.3 ms`. */
export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined) {
    return UNKNOWN;
  }
  return seconds < 1 ? `${(seconds * 1_000).toFixed(seconds < 0.01 ? 2 : 1)} ms` : `${seconds.toFixed(2)} s`;
}

/** `1500` ms → `1.5 s ago`, minutes past a minute. */
export function formatAge(ms: number | undefined): string {
  if (ms === undefined) {
    return 'never';
  }
  return ms < 60_000 ? `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s ago` : `${formatUptime(0, ms)} ago`;
}

function cell(field: string, text: string, numeric = true): HTMLTableCellElement {
  return h('td', { class: numeric ? 'num' : '', text, data: { field } });
}

/** `gateway-1: 3 · gateway-2: 1`: where a cluster-wide count comes from. */
function byNode(snapshot: Snapshot, pick: (protocols: ReadonlyMap<string, ProtocolFigures>) => number): string {
  return snapshot.nodes.map((node) => `${node.nodeId}: ${formatInteger(pick(node.protocols))}`).join(' · ');
}

/**
 * The operator console's cluster panels: one table per concern, every number cluster-wide (from the
 * snapshot's per-node reports) with each node's share, plus charts of the last minutes. Rates and interval
 * latencies come from the difference between this page's successive snapshots.
 */
export class ConsoleView {
  readonly #elements: ConsoleElements;
  readonly #rates = new RateMeter();
  readonly #history = new SampleHistory(CHART_WINDOW_MS, 1_000);
  readonly #previousLatency = new Map<string, Buckets>();
  readonly #charts: { messages: LineChart; latency: LineChart; connections: LineChart };

  constructor(elements: ConsoleElements) {
    this.#elements = elements;
    const box = (): HTMLElement => {
      const element = h('figure', { class: 'chart' });
      elements.charts.append(element);
      return element;
    };
    this.#charts = {
      messages: new LineChart(
        box(),
        'Messages per second',
        [
          { key: 'sent', label: 'to clients', colour: 'var(--accent)' },
          { key: 'received', label: 'from clients', colour: 'var(--warn)' },
        ],
        (v) => formatRate(v),
      ),
      latency: new LineChart(
        box(),
        'Delivery latency',
        [
          { key: 'p50', label: 'p50', colour: 'var(--ok)' },
          { key: 'p99', label: 'p99', colour: 'var(--bad)' },
        ],
        (v) => formatSeconds(v),
      ),
      connections: new LineChart(
        box(),
        'Connections',
        [
          { key: 'socketio', label: 'socketio', colour: 'var(--accent)' },
          { key: 'stock', label: 'stock', colour: 'var(--rise)' },
          { key: 'signals', label: 'signals', colour: 'var(--fall)' },
        ],
        (v) => formatInteger(v),
      ),
    };
  }

  update(snapshot: Snapshot, nowMs: number): void {
    const e = this.#elements;
    e.servedBy.textContent = `answered by ${snapshot.servedBy}`;
    e.clusterNote.textContent =
      `${snapshot.nodes.length} gateway node${snapshot.nodes.length === 1 ? '' : 's'}` +
      (snapshot.missingNodes.length > 0 ? `; no answer from ${snapshot.missingNodes.join(', ')} (missing from the totals)` : '');
    e.clusterNote.dataset['missing'] = String(snapshot.missingNodes.length);
    this.#protocols(snapshot, nowMs);
    this.#bus(snapshot);
    this.#counts(e.authRows, snapshot, (p) => p.authFailures);
    this.#counts(e.errorRows, snapshot, (p) => p.errors);
    this.#counts(e.closeRows, snapshot, (p) => p.closes);
    this.#sources(snapshot);
    this.#chart(snapshot, nowMs);
  }

  #protocols(snapshot: Snapshot, nowMs: number): void {
    const groups: [string, ReadonlyMap<string, ProtocolFigures>][] = [
      [CLUSTER, snapshot.totals],
      ...snapshot.nodes.map((node): [string, ReadonlyMap<string, ProtocolFigures>] => [node.nodeId, node.protocols]),
    ];
    const rows: HTMLTableRowElement[] = [];
    for (const [owner, protocols] of groups) {
      for (const protocol of PROTOCOL_ORDER) {
        const p = protocols.get(protocol);
        if (p === undefined) {
          continue;
        }
        const key = `${owner}|${protocol}`;
        rows.push(
          h(
            'tr',
            { class: owner === CLUSTER ? 'total' : '', data: { node: owner, protocol } },
            h('td', { text: owner === CLUSTER ? 'cluster' : owner, class: 'mono' }),
            h('td', { text: protocol }),
            cell('connections', formatInteger(p.connections)),
            cell('opened', formatInteger(p.opened)),
            cell('subscriptions', formatInteger(p.subscriptions)),
            cell('sent', formatInteger(p.messagesSent)),
            cell('sent-rate', formatRate(this.#rates.sample(`${key}|sent`, p.messagesSent, nowMs))),
            cell('received', formatInteger(p.messagesReceived)),
            cell('received-rate', formatRate(this.#rates.sample(`${key}|received`, p.messagesReceived, nowMs))),
            cell('latency-count', formatInteger(p.latency.count)),
            cell('p50', formatSeconds(quantile(p.latency.buckets, 0.5))),
            cell('p99', formatSeconds(quantile(p.latency.buckets, 0.99))),
            cell('dropped', formatInteger(p.backpressureDropped)),
            cell('slow-closes', formatInteger(p.backpressureDisconnects)),
          ),
        );
      }
    }
    this.#elements.protocolRows.replaceChildren(...rows);
  }

  #bus(snapshot: Snapshot): void {
    this.#elements.busRows.replaceChildren(
      ...snapshot.nodes.map((node) =>
        h(
          'tr',
          { data: { node: node.nodeId } },
          h('td', { class: 'mono', text: node.nodeId + (node.nodeId === snapshot.servedBy ? ' *' : '') }),
          cell('kind', node.bus.kind, false),
          h('td', {}, h('span', { class: 'badge', text: node.draining ? 'draining' : node.bus.state, data: { field: 'state', state: node.bus.state === 'connected' && !node.draining ? 'up' : 'down' } })),
          cell('lag', node.bus.lagMs === undefined ? UNKNOWN : `${formatInteger(node.bus.lagMs)} ms`),
          cell('reconnects', formatInteger(node.bus.reconnects)),
          cell('published', formatInteger(node.bus.published)),
          cell('up', formatUptime(node.startedAt === undefined ? undefined : Date.parse(node.startedAt), snapshot.generatedAt)),
        ),
      ),
    );
  }

  /** Rows of (protocol, label) with the cluster's count and each node's: auth failures by reason, errors by code. */
  #counts(body: HTMLTableSectionElement, snapshot: Snapshot, of: (p: ProtocolFigures) => ReadonlyMap<string, number>): void {
    const rows: HTMLTableRowElement[] = [];
    for (const [protocol, totals] of snapshot.totals) {
      for (const [label, count] of [...of(totals)].sort((a, b) => b[1] - a[1])) {
        rows.push(
          h(
            'tr',
            { data: { protocol, key: label } },
            h('td', { text: protocol }),
            h('td', { class: 'mono', text: label }),
            cell('count', formatInteger(count)),
            h('td', { class: 'muted', text: byNode(snapshot, (protocols) => of(protocols.get(protocol) ?? totals).get(label) ?? 0) }),
          ),
        );
      }
    }
    if (rows.length === 0) {
      rows.push(h('tr', {}, h('td', { class: 'muted', text: 'none since the nodes started' })));
    }
    body.replaceChildren(...rows);
  }

  #sources(snapshot: Snapshot): void {
    const e = this.#elements;
    e.sourceRows.replaceChildren(
      ...snapshot.sources.map((s) =>
        h(
          'tr',
          { data: { source: s.name, node: s.nodeId, health: s.health } },
          h('td', { text: s.name }),
          cell('process', s.process, false),
          h('td', { class: 'mono', text: s.nodeId }),
          h('td', {}, h('span', { class: 'badge', text: s.health, data: { field: 'health', state: s.health === 'ok' ? 'up' : s.health === 'waiting' ? 'unknown' : 'down' } })),
          cell('last-publish', formatAge(s.lastPublishAgeMs)),
          cell('publishes', formatInteger(s.publishes)),
          cell('errors', formatInteger(s.errors)),
          cell('last-error', s.lastErrorKind ?? '', false),
          cell('modes', s.modes ?? '', false),
        ),
      ),
    );
    e.workerRows.replaceChildren(
      ...(snapshot.workers.length === 0
        ? [h('tr', {}, h('td', { class: 'muted', text: 'no worker has announced itself' }))]
        : snapshot.workers.map((w) =>
            h(
              'tr',
              { data: { worker: w.workerId } },
              h('td', { class: 'mono', text: w.workerId }),
              h('td', {}, h('span', { class: 'badge', text: w.state, data: { field: 'state', state: w.state === 'up' ? 'up' : 'down' } })),
              cell('last-seen', w.state === 'up' ? 'now' : formatAge(w.lastSeenAgeMs)),
            ),
          )),
    );
  }

  #chart(snapshot: Snapshot, nowMs: number): void {
    const values = new Map<string, number>();
    let sent = 0;
    let received = 0;
    // Latency over the last interval, all protocols together: the observations since the previous snapshot.
    const interval = new Map<number, number>();
    let complete = true;
    for (const [protocol, p] of snapshot.totals) {
      sent += p.messagesSent;
      received += p.messagesReceived;
      if (PROTOCOL_ORDER.includes(protocol)) {
        values.set(protocol, p.connections);
      }
      const previous = this.#previousLatency.get(protocol);
      const delta = previous === undefined ? undefined : bucketsSince(p.latency.buckets, previous);
      this.#previousLatency.set(protocol, p.latency.buckets);
      if (delta === undefined) {
        complete = false;
      } else {
        for (const [le, count] of delta) {
          interval.set(le, (interval.get(le) ?? 0) + count);
        }
      }
    }
    const sentRate = this.#rates.sample('chart|sent', sent, nowMs);
    const receivedRate = this.#rates.sample('chart|received', received, nowMs);
    if (sentRate !== undefined) {
      values.set('sent', sentRate);
    }
    if (receivedRate !== undefined) {
      values.set('received', receivedRate);
    }
    if (complete) {
      const buckets = [...interval].sort((a, b) => a[0] - b[0]);
      const p50 = quantile(buckets, 0.5);
      const p99 = quantile(buckets, 0.99);
      if (p50 !== undefined && p99 !== undefined) {
        values.set('p50', p50);
        values.set('p99', p99);
      }
    }
    this.#history.add({ atMs: nowMs, values });
    const samples = this.#history.samples;
    this.#charts.messages.render(samples, CHART_WINDOW_MS, nowMs);
    this.#charts.latency.render(samples, CHART_WINDOW_MS, nowMs);
    this.#charts.connections.render(samples, CHART_WINDOW_MS, nowMs);
  }
}
