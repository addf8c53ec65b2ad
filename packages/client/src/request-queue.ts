/** A request that gets exactly one reply, in order (the stock protocol answers every message it reads once). */
export interface QueuedRequest {
  readonly text: string;
}

export interface RequestQueueOptions<R extends QueuedRequest> {
  /**
   * Requests sent per one-second window. The server counts messages per connection in its own one-second
   * windows, which do not line up with ours: at half its limit we never exceed it.
   */
  perSecond: number;
  /** Most requests held (waiting to be sent plus waiting for a reply); more are refused. */
  capacity: number;
  /** A reply later than this means the connection is stuck: `onTimeout` is called with the oldest request. */
  replyTimeoutMs: number;
  /** Writes one frame; false when there is no open connection (the request stays first in line). */
  send(text: string): boolean;
  onTimeout(request: R): void;
}

/**
 * Requests of one connection: sent paced (at most `perSecond` per window, so resubscribing a hundred targets
 * after a reconnect does not trip the server's rate limit), then held in order until their reply arrives.
 * Bounded by `capacity`; `drain()` empties it when the connection ends.
 */
export class RequestQueue<R extends QueuedRequest> {
  readonly #options: RequestQueueOptions<R>;
  readonly #unsent: R[] = [];
  readonly #inFlight: { request: R; sentAt: number }[] = [];
  #windowStart = 0;
  #sentInWindow = 0;
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  #replyTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RequestQueueOptions<R>) {
    this.#options = options;
  }

  get size(): number {
    return this.#unsent.length + this.#inFlight.length;
  }

  /** Queues a request and sends what the pace allows; false (nothing queued) when the queue is full. */
  enqueue(request: R): boolean {
    if (this.size >= this.#options.capacity) {
      return false;
    }
    this.#unsent.push(request);
    this.#pump();
    return true;
  }

  /** Sends nothing more in the current one-second window (the server said we were too fast). */
  skipWindow(): void {
    this.#windowStart = Date.now();
    this.#sentInWindow = this.#options.perSecond;
  }

  /** The request the next reply answers: the oldest one in flight. */
  takeReply(): R | undefined {
    const entry = this.#inFlight.shift();
    this.#armReplyTimer();
    return entry?.request;
  }

  /** Every request not yet answered, oldest first; the queue is empty afterwards. */
  drain(): R[] {
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#replyTimer);
    this.#pumpTimer = undefined;
    this.#replyTimer = undefined;
    const pending = [...this.#inFlight.map((entry) => entry.request), ...this.#unsent];
    this.#inFlight.length = 0;
    this.#unsent.length = 0;
    return pending;
  }

  #pump(): void {
    if (this.#pumpTimer !== undefined) {
      return; // already waiting for the next window
    }
    while (this.#unsent.length > 0) {
      const now = Date.now();
      if (now - this.#windowStart >= 1_000) {
        this.#windowStart = now;
        this.#sentInWindow = 0;
      }
      if (this.#sentInWindow >= this.#options.perSecond) {
        this.#pumpTimer = setTimeout(() => {
          this.#pumpTimer = undefined;
          this.#pump();
        }, this.#windowStart + 1_000 - now);
        return;
      }
      const request = this.#unsent[0] as R;
      if (!this.#options.send(request.text)) {
        return;
      }
      this.#unsent.shift();
      this.#sentInWindow += 1;
      this.#inFlight.push({ request, sentAt: now });
      if (this.#replyTimer === undefined) {
        this.#armReplyTimer();
      }
    }
  }

  #armReplyTimer(): void {
    clearTimeout(this.#replyTimer);
    this.#replyTimer = undefined;
    const oldest = this.#inFlight[0];
    if (oldest === undefined) {
      return;
    }
    this.#replyTimer = setTimeout(
      () => {
        this.#replyTimer = undefined;
        if (this.#inFlight[0] === oldest) {
          this.#options.onTimeout(oldest.request);
        }
      },
      Math.max(0, oldest.sentAt + this.#options.replyTimeoutMs - Date.now()),
    );
  }
}
