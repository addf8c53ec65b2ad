import { Decoder, Encoder, PacketType } from 'socket.io-parser';

/** The event a packet that could not be decoded becomes; the connection answers it with `bad_request`. */
export const UNDECODABLE_EVENT = '\u0000undecodable';

/**
 * socket.io's own decoder, except that a packet it cannot decode (not Socket.IO at all, binary data out of
 * place, a bad namespace) does not end the connection: it becomes the event `UNDECODABLE_EVENT` on the main
 * namespace, which the trading connection answers with an error like any other bad input. Ending the session
 * from inside the decoder is also what made socket.io's uWS integration disturb another, freshly opened socket
 * of the same app on this uWS build (seen as a signal client cut with 1006 right after its upgrade).
 */
class TolerantDecoder extends Decoder {
  override add(obj: unknown): void {
    try {
      super.add(obj);
    } catch (error) {
      super.emitReserved('decoded', {
        type: PacketType.EVENT,
        nsp: '/',
        data: [UNDECODABLE_EVENT, error instanceof Error ? error.message.slice(0, 120) : 'undecodable'],
      });
    }
  }
}

/** The `parser` option of the Socket.IO server. */
export const tolerantParser = { Encoder, Decoder: TolerantDecoder };
