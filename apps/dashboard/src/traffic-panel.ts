import { formatInteger, formatRate } from './format.js';
import { h } from './dom.js';
import { RateMeter } from './rates.js';
import type { ProtocolCounters } from './stats.js';

/** How each protocol is introduced on its card; protocols not listed here are shown by their name. */
const protocolLabels: Readonly<Record<string, { title: string; endpoint: string }>> = {
  socketio: { title: 'Trading (Socket.IO)', endpoint: '/socket.io/' },
  stock: { title: 'Stock prices', endpoint: '/ws/stock/prices' },
  signals: { title: 'Signals', endpoint: '/ws/signals' },
};

const fields = ['total', 'subscriptions', 'sent', 'received'] as const;
type Field = (typeof fields)[number] | 'connections';

const fieldLabels: Readonly<Record<(typeof fields)[number], string>> = {
  total: 'opened since start',
  subscriptions: 'subscriptions',
  sent: 'messages out',
  received: 'messages in',
};

/** One card per protocol: connections open now, and message rates computed from successive polls. */
export class TrafficPanel {
  readonly #container: HTMLElement;
  readonly #cards = new Map<string, Map<Field, HTMLElement>>();
  readonly #rates = new RateMeter();

  constructor(container: HTMLElement) {
    this.#container = container;
  }

  update(protocols: ReadonlyMap<string, ProtocolCounters>, atMs: number): void {
    for (const [protocol, counters] of protocols) {
      const values = this.#card(protocol);
      const sentRate = counters.messagesSent === undefined ? undefined : this.#rates.sample(`${protocol}:sent`, counters.messagesSent, atMs);
      const receivedRate =
        counters.messagesReceived === undefined ? undefined : this.#rates.sample(`${protocol}:received`, counters.messagesReceived, atMs);
      const texts: Record<Field, string> = {
        connections: formatInteger(counters.connections),
        total: formatInteger(counters.totalConnections),
        subscriptions: formatInteger(counters.subscriptions),
        sent: formatRate(sentRate),
        received: formatRate(receivedRate),
      };
      for (const [field, element] of values) {
        element.textContent = texts[field];
      }
    }
  }

  /** Marks the numbers as old (the gateway did not answer) without clearing them. */
  setStale(stale: boolean): void {
    this.#container.classList.toggle('stale', stale);
  }

  #card(protocol: string): Map<Field, HTMLElement> {
    const existing = this.#cards.get(protocol);
    if (existing !== undefined) {
      return existing;
    }
    const label = protocolLabels[protocol] ?? { title: protocol, endpoint: '' };
    const values = new Map<Field, HTMLElement>();
    const connections = h('strong', { class: 'big', data: { field: 'connections' } });
    values.set('connections', connections);
    const list = h('dl');
    for (const field of fields) {
      const value = h('dd', { data: { field } });
      values.set(field, value);
      list.append(h('dt', { text: fieldLabels[field] }), value);
    }
    this.#container.append(
      h(
        'article',
        { class: 'card', data: { protocol } },
        h('h3', { text: label.title }),
        h('code', { class: 'endpoint', text: label.endpoint }),
        h('p', { class: 'connections' }, connections, h('span', { text: ' connected' })),
        list,
      ),
    );
    this.#cards.set(protocol, values);
    return values;
  }
}
