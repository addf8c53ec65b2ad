import { clockOf, formatCompact, formatPrice, formatSigned, plural } from './format.js';
import { h, webSocketUrl } from './dom.js';
import { LiveSocket, stateLabel } from './live-socket.js';
import { PriceBoard, priceRowsOf } from './prices.js';
import type { PriceChange, PriceRow } from './prices.js';
import { stringAt, parseObject } from './wire.js';

/** Flash colours of a price tick, in the A-share convention: red for a rise, green for a fall. */
const FLASH = { up: 'rgba(214, 48, 49, 0.28)', down: 'rgba(0, 148, 50, 0.28)' } as const;
const FLASH_MS = 900;

export interface PriceBoardElements {
  form: HTMLFormElement;
  strategyInput: HTMLInputElement;
  state: HTMLElement;
  summary: HTMLElement;
  rows: HTMLTableSectionElement;
}

/**
 * The live price board: this page is itself a client of `/ws/stock/prices`, subscribed to one `strategy`
 * target. Rows are kept in code order; a tick flashes its row and its price shows ▲/▼.
 */
export class PriceBoardPanel {
  readonly #elements: PriceBoardElements;
  readonly #board = new PriceBoard();
  readonly #rowElements = new Map<string, HTMLTableRowElement>();
  readonly #socket: LiveSocket;
  #strategy: string;
  #token: string | undefined;
  #updates = 0;
  /**
   * Between asking for a strategy and its `subscribed` reply, updates still in flight belong to the previous
   * subscription (the server answers in order), so they are not shown.
   */
  #awaitingSubscribed = true;

  constructor(elements: PriceBoardElements, strategy: string, token: string | undefined) {
    this.#elements = elements;
    this.#strategy = strategy;
    this.#token = token;
    elements.strategyInput.value = strategy;
    // The stock endpoint needs no token by default; one is sent when known, for STOCK_REQUIRE_AUTH=true.
    this.#socket = new LiveSocket({
      url: () => webSocketUrl('/ws/stock/prices', { token: this.#token }),
      onText: (text) => {
        this.#onFrame(text);
      },
      onState: (state) => {
        elements.state.textContent = stateLabel(state);
        elements.state.dataset['state'] = state.kind;
      },
    });
    elements.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#show(elements.strategyInput.value.trim());
    });
  }

  start(): void {
    this.#socket.start();
  }

  /** A new token (the signal panel's): reconnect with it. */
  setToken(token: string | undefined): void {
    this.#token = token;
    this.#socket.start();
  }

  #show(strategy: string): void {
    if (strategy === '' || strategy === this.#strategy) {
      return;
    }
    this.#send('unsubscribe', this.#strategy);
    this.#strategy = strategy;
    this.#board.clear();
    this.#rowElements.clear();
    this.#elements.rows.replaceChildren();
    this.#updates = 0;
    this.#awaitingSubscribed = true;
    this.#send('subscribe', strategy);
  }

  #send(type: 'subscribe' | 'unsubscribe', strategy: string): void {
    this.#socket.send(JSON.stringify({ type, subscription_type: 'strategy', target: strategy }));
  }

  #onFrame(text: string): void {
    const frame = parseObject(text);
    switch (stringAt(frame, 'type') ?? '') {
      case 'connected':
        // Every (re)connection starts without subscriptions.
        this.#awaitingSubscribed = true;
        this.#send('subscribe', this.#strategy);
        this.#summary(`subscribing to ${this.#strategy}…`);
        break;
      case 'subscribed':
        if (stringAt(frame, 'target') === this.#strategy) {
          this.#awaitingSubscribed = false;
          this.#summary(`${this.#strategy}: waiting for prices…`);
        }
        break;
      case 'price_update':
        if (frame !== undefined && !this.#awaitingSubscribed) {
          this.#apply(priceRowsOf(frame));
        }
        break;
      case 'error':
        this.#summary(`${stringAt(frame, 'error') ?? 'error'}: ${stringAt(frame, 'details') ?? ''}`, true);
        break;
      default:
        break;
    }
  }

  #apply(rows: readonly PriceRow[]): void {
    const { changes, dropped } = this.#board.apply(rows);
    for (const code of dropped) {
      this.#rowElements.get(code)?.remove();
      this.#rowElements.delete(code);
    }
    for (const change of changes) {
      this.#render(change);
    }
    this.#updates += 1;
    const latest = rows.reduce<string | undefined>((max, row) => (max === undefined || (row.timestamp ?? '') > max ? row.timestamp : max), undefined);
    this.#summary(`${this.#strategy}: ${plural(this.#board.size, 'stock')} · ${plural(this.#updates, 'update')} · last tick ${clockOf(latest)}`);
  }

  #render({ row, move }: PriceChange): void {
    let tr = this.#rowElements.get(row.code);
    if (tr === undefined) {
      tr = h('tr', { data: { code: row.code } });
      for (let i = 0; i < 7; i += 1) {
        tr.append(h('td'));
      }
      this.#insertSorted(row.code, tr);
      this.#rowElements.set(row.code, tr);
    }
    const [code, name, price, change, percent, volume, time] = tr.cells;
    const direction = row.change === undefined || row.change === 0 ? 'flat' : row.change > 0 ? 'rise' : 'fall';
    tr.dataset['direction'] = direction;
    if (move === 'up' || move === 'down') {
      tr.dataset['move'] = move;
      tr.animate([{ backgroundColor: FLASH[move] }, { backgroundColor: 'transparent' }], { duration: FLASH_MS, easing: 'ease-out' });
    }
    setCell(code, row.code, 'mono');
    setCell(name, row.name, '');
    setCell(price, formatPrice(row.price), 'num price');
    setCell(change, formatSigned(row.change), 'num change');
    setCell(percent, formatSigned(row.changePercent, '%'), 'num change');
    setCell(volume, formatCompact(row.volume), 'num');
    setCell(time, clockOf(row.timestamp), 'num muted');
  }

  /** Keeps rows in code order: the board does not jump around as prices move. */
  #insertSorted(code: string, tr: HTMLTableRowElement): void {
    const rows = this.#elements.rows;
    const after = [...rows.rows].find((existing) => (existing.dataset['code'] ?? '') > code);
    rows.insertBefore(tr, after ?? null);
  }

  #summary(text: string, isError = false): void {
    this.#elements.summary.textContent = text;
    this.#elements.summary.classList.toggle('error', isError);
  }
}

function setCell(cell: HTMLTableCellElement | undefined, text: string, className: string): void {
  if (cell !== undefined) {
    cell.textContent = text;
    cell.className = className;
  }
}
