import { reconnectDelay } from './backoff.js';

/** What a {@link LiveSocket} is doing, for the panel's status badge. */
export type SocketState =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'open' }
  /** Closed; the next attempt starts in `retryInMs`. `everOpened` false: the gateway refused the upgrade. */
  | { readonly kind: 'waiting'; readonly retryInMs: number; readonly closeCode: number; readonly everOpened: boolean }
  | { readonly kind: 'stopped' };

export interface LiveSocketOptions {
  /** The URL of each attempt, asked anew every time (so it can carry `?since=`). */
  url(): string;
  /** Every text frame. */
  onText(text: string): void;
  onState(state: SocketState): void;
}

/**
 * A browser WebSocket that stays connected: after any close it reconnects with exponential backoff (1 s to
 * 30 s, with jitter) until stopped. Events of a socket it has replaced are ignored.
 */
export class LiveSocket {
  readonly #options: LiveSocketOptions;
  #socket: WebSocket | undefined;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #running = false;

  constructor(options: LiveSocketOptions) {
    this.#options = options;
  }

  /** Connects (again, from scratch, if it already was). */
  start(): void {
    this.stop();
    this.#running = true;
    this.#attempt = 0;
    this.#connect();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined && socket.readyState <= WebSocket.OPEN) {
      socket.close(1000, 'closed by the dashboard');
    }
    this.#options.onState({ kind: 'stopped' });
  }

  /** Sends when open; answers whether it did. */
  send(text: string): boolean {
    if (this.#socket?.readyState !== WebSocket.OPEN) {
      return false;
    }
    this.#socket.send(text);
    return true;
  }

  #connect(): void {
    const socket = new WebSocket(this.#options.url());
    this.#socket = socket;
    let opened = false;
    this.#options.onState({ kind: 'connecting' });
    socket.addEventListener('open', () => {
      if (socket === this.#socket) {
        opened = true;
        this.#attempt = 0;
        this.#options.onState({ kind: 'open' });
      }
    });
    socket.addEventListener('message', (event: MessageEvent<unknown>) => {
      if (socket === this.#socket && typeof event.data === 'string') {
        this.#options.onText(event.data);
      }
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.#socket || !this.#running) {
        return;
      }
      const retryInMs = reconnectDelay(this.#attempt);
      this.#attempt += 1;
      this.#options.onState({ kind: 'waiting', retryInMs, closeCode: event.code, everOpened: opened });
      this.#retryTimer = setTimeout(() => {
        this.#connect();
      }, retryInMs);
    });
  }
}

/** The badge text of a state: `live`, `connecting…`, `retry in 4 s`, `off`. */
export function stateLabel(state: SocketState): string {
  switch (state.kind) {
    case 'connecting':
      return 'connecting…';
    case 'open':
      return 'live';
    case 'waiting':
      return `retry in ${Math.ceil(state.retryInMs / 1_000)} s`;
    case 'stopped':
      return 'off';
  }
}
