import type { Server } from 'socket.io';
import type { AdapterDeps } from '@gw/connections';

/** The part of the uWS app used here: topic publishing (the raw app, not socket.io's view of it). */
export type PublishingApp = Pick<AdapterDeps['app'], 'publish'>;

/**
 * socket.io's uWS integration names the uWS topic of room `r` of namespace `n` `n + '\x1f' + r` and subscribes
 * each WebSocket-transport socket of the room to it (socket.io/dist/uws.js). Pinned by the adapter's tests: a
 * change there shows as pushes that never arrive.
 */
const TOPIC_SEPARATOR = '\x1f';

/**
 * Sends one event to every socket of a room of the default namespace, the frame written exactly as
 * `io.to(room).emit(event, payload)` writes it (Engine.IO message `4`, Socket.IO EVENT `2`, then the JSON of
 * `[event, payload]`).
 *
 * Guarantees:
 * - the payload is serialized once, whatever the number of sockets;
 * - when every socket of the room is on the WebSocket transport (the usual case), the frame is handed to uWS
 *   with one `app.publish` on the room's topic: nothing per socket (while no session of the server polls,
 *   not even a transport check), no write, and no
 *   socket.io broadcast machinery (its operator, flag and room sets, binary scan and debug calls cost more
 *   than the publish itself);
 * - otherwise (a socket still on HTTP long-polling, or one socket.io does not list yet) it falls back to
 *   `io.to(room).emit`, which writes to those sockets too;
 * - returns the number of sockets in the room (0: nothing was sent).
 *
 * Only for payloads without binary data (JSON values): socket.io would send binary as attachments.
 */
export type RoomPublisher = (room: string, event: string, payload: unknown) => number;

/** JSON.stringify as it really is typed: undefined for undefined, functions and symbols. */
const stringify: (value: unknown) => string | undefined = JSON.stringify;

/** An Engine.IO session, as much of it as is used here. */
interface EngineSession {
  readonly transport: { readonly name: string };
  once(event: 'upgrade' | 'close', listener: () => void): unknown;
}

/**
 * Counts the Engine.IO sessions of `io` that are not on the WebSocket transport (long-polling, before or
 * without an upgrade); returns the current count. While it is 0, the usual case, every room member is a
 * WebSocket that socket.io's uWS integration has subscribed to its rooms' topics, so a push needs no
 * per-member transport check (a Map lookup per member per push).
 */
function countPollingSessions(io: Server): () => number {
  let polling = 0;
  const track = (session: EngineSession): void => {
    if (session.transport.name === 'websocket') {
      return;
    }
    polling += 1;
    let counted = true;
    const settle = (): void => {
      if (counted) {
        counted = false;
        polling -= 1;
      }
    };
    // `upgrade` is emitted once the session has switched to the WebSocket (socket.io subscribes its rooms then).
    session.once('upgrade', settle);
    session.once('close', settle);
  };
  // `clients` is engine.io's documented map of open sessions (typed protected in its declarations).
  for (const session of Object.values((io.engine as unknown as { clients: Record<string, EngineSession> }).clients)) {
    track(session);
  }
  io.engine.on('connection', track);
  return () => polling;
}

export function createRoomPublisher(io: Server, app: PublishingApp): RoomPublisher {
  const namespace = io.sockets;
  const pollingSessions = countPollingSessions(io);
  const topicPrefix = `${namespace.name}${TOPIC_SEPARATOR}`;
  // The namespace prefix of a Socket.IO packet: none for `/` (socket.io-parser's encodeAsString).
  const packetPrefix = namespace.name === '/' ? '42' : `42${namespace.name},`;
  // The frame up to the payload, per event name (a handful): `42["balance_update",`. The frame is then one
  // JSON.stringify of the payload between two constant pieces, without the `[event, payload]` array.
  const heads = new Map<string, string>();
  const headOf = (event: string): string => {
    let head = heads.get(event);
    if (head === undefined) {
      head = `${packetPrefix}[${JSON.stringify(event)},`;
      if (heads.size < 1_000) {
        heads.set(event, head);
      }
    }
    return head;
  };
  return (room, event, payload) => {
    const members = namespace.adapter.rooms.get(room);
    if (members === undefined || members.size === 0) {
      return 0;
    }
    if (pollingSessions() > 0) {
      for (const id of members) {
        if (namespace.sockets.get(id)?.conn.transport.name !== 'websocket') {
          (io.to(room).emit as (event: string, payload: unknown) => boolean)(event, payload);
          return members.size;
        }
      }
    }
    // `JSON.stringify([event, payload])` writes an undefined payload as null; alone it would return undefined.
    app.publish(`${topicPrefix}${room}`, `${headOf(event)}${stringify(payload) ?? 'null'}]`, false);
    return members.size;
  };
}
