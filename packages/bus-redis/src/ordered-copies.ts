/**
 * Sends second copies of messages (cluster mode: the family channel copy) in the order their originals were
 * handed to the bus, although some originals are only known once Redis answered (the id a script assigned).
 * Each publish reserves a place at once; a place is filled with the message (or given up when the original
 * failed); filled places at the head are sent in order. The queue holds only publishes still in flight.
 */
export class OrderedCopies {
  readonly #send: (channel: string, message: string) => void;
  readonly #queue: { channel: string; message: string | undefined; settled: boolean }[] = [];

  constructor(send: (channel: string, message: string) => void) {
    this.#send = send;
  }

  /** Reserves the next place; call the result once with the message, or with undefined to give the place up. */
  reserve(channel: string): (message: string | undefined) => void {
    const place = { channel, message: undefined as string | undefined, settled: false };
    this.#queue.push(place);
    return (message) => {
      if (place.settled) {
        return;
      }
      place.settled = true;
      place.message = message;
      this.#flush();
    };
  }

  #flush(): void {
    for (let head = this.#queue[0]; head?.settled === true; head = this.#queue[0]) {
      this.#queue.shift();
      if (head.message !== undefined) {
        this.#send(head.channel, head.message);
      }
    }
  }
}
