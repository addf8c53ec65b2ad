import { clockOfUnixSeconds, formatPrice } from './format.js';
import { h, webSocketUrl } from './dom.js';
import { LiveSocket, stateLabel } from './live-socket.js';
import type { SocketState } from './live-socket.js';
import { SignalFeed, signalOf } from './signals.js';
import type { Signal } from './signals.js';
import { numberAt, parseObject, stringAt } from './wire.js';
import type { JsonObject } from './wire.js';

export const MINT_TOKEN_COMMAND = 'pnpm mint-token --sub 1';
const MAX_SIGNALS = 100;

export interface SignalFeedElements {
  form: HTMLFormElement;
  tokenInput: HTMLInputElement;
  testButton: HTMLButtonElement;
  state: HTMLElement;
  note: HTMLElement;
  rows: HTMLOListElement;
}

/**
 * The live signal feed: this page is itself a client of `/ws/signals`, which needs a JWT (`?token=`, since
 * browsers cannot set headers on a WebSocket), of every producer. Reconnects resume with `?since=<last id>`, so
 * signals published while the page was disconnected are replayed, not lost.
 */
export class SignalFeedPanel {
  readonly #elements: SignalFeedElements;
  readonly #feed = new SignalFeed(MAX_SIGNALS);
  readonly #socket: LiveSocket;
  #token: string | undefined;

  /** `onToken`: called with a token the user entered, for the other panels. */
  constructor(elements: SignalFeedElements, token: string | undefined, onToken: (token: string) => void) {
    this.#elements = elements;
    this.#token = token;
    elements.tokenInput.value = token ?? '';
    this.#socket = new LiveSocket({
      // Every producer (`?sources=*`), strategies included: an operator sees the whole feed, where a client
      // without ?sources= gets only the default set (SIGNALS_DEFAULT_SOURCES).
      url: () => webSocketUrl('/ws/signals', { token: this.#token, sources: '*', since: this.#feed.lastId }),
      onText: (text) => {
        this.#onFrame(text);
      },
      onState: (state) => {
        this.#onState(state);
      },
    });
    elements.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const entered = elements.tokenInput.value.trim();
      if (entered !== '') {
        this.#token = entered;
        onToken(entered);
        this.#socket.start();
      }
    });
    elements.testButton.addEventListener('click', () => {
      // The server answers this client alone with a test signal (is_test: true).
      this.#socket.send('test');
    });
  }

  start(): void {
    if (this.#token === undefined) {
      this.#note(`Signals need a token. Run \`${MINT_TOKEN_COMMAND}\` and open this page with ?token=<token>, or paste it above.`);
      this.#elements.state.textContent = 'no token';
      this.#elements.state.dataset['state'] = 'stopped';
      return;
    }
    this.#socket.start();
  }

  #onState(state: SocketState): void {
    this.#elements.state.textContent = stateLabel(state);
    this.#elements.state.dataset['state'] = state.kind;
    this.#elements.testButton.disabled = state.kind !== 'open';
    if (state.kind === 'open') {
      this.#note(this.#feed.entries().length === 0 ? 'Connected: waiting for signals.' : '');
    } else if (state.kind === 'waiting' && !state.everOpened) {
      // A refused upgrade (HTTP 401) reaches a browser WebSocket only as a close before it opened.
      this.#note(`The gateway refused the connection: is the token valid and unexpired? A new one: \`${MINT_TOKEN_COMMAND}\`.`, true);
    }
  }

  #onFrame(text: string): void {
    const frame = parseObject(text);
    if (frame === undefined) {
      return;
    }
    const signal = signalOf(frame);
    if (signal !== undefined) {
      if (this.#feed.add(signal)) {
        this.#prepend(signal);
        this.#note('');
      }
      return;
    }
    switch (stringAt(frame, 'type') ?? '') {
      case 'recovery':
        this.#note(recoveryNote(frame));
        break;
      case 'error':
        this.#note(`${stringAt(frame, 'error') ?? 'error'}: ${stringAt(frame, 'message') ?? ''}`, true);
        break;
      default:
        break;
    }
  }

  #prepend(signal: Signal): void {
    const item = h(
      'li',
      { class: `signal ${signal.type}`, data: { side: signal.type, ...(signal.id === undefined ? {} : { id: signal.id }) } },
      h('span', { class: 'side', text: signal.type.toUpperCase() }),
      h('span', { class: 'symbol', text: signal.symbol }),
      h('span', { class: 'num price', text: formatPrice(signal.price) }),
      h('time', { class: 'muted', text: clockOfUnixSeconds(signal.timestamp) }),
      ...(signal.isTest ? [h('span', { class: 'tag', text: 'test' })] : []),
    );
    const rows = this.#elements.rows;
    rows.prepend(item);
    while (rows.children.length > MAX_SIGNALS) {
      rows.lastElementChild?.remove();
    }
  }

  #note(text: string, isError = false): void {
    this.#elements.note.textContent = text;
    this.#elements.note.classList.toggle('error', isError);
  }
}

function recoveryNote(frame: JsonObject): string {
  const replayed = numberAt(frame, 'replayed') ?? 0;
  if (frame['recovered'] === true) {
    return `Reconnected: ${replayed} missed signal${replayed === 1 ? '' : 's'} replayed.`;
  }
  return `Reconnected, but some signals were lost (${stringAt(frame, 'reason') ?? 'unknown reason'}); ${replayed} replayed.`;
}
