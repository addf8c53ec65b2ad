import { spawn } from 'node:child_process';

export interface StalledReaderOptions {
  port: number;
  /** Request path with its query, e.g. `/ws/signals?symbols=BULK`. */
  path: string;
  /** Sent as `Authorization: Bearer <token>` when given. */
  bearer?: string;
  /** One text frame sent right after the handshake (e.g. a subscribe), before the client stops reading. */
  firstMessage?: string;
}

export interface StalledReader {
  kill(): void;
  exited: Promise<void>;
}

/**
 * A WebSocket client that completes the handshake (and optionally sends one frame) and then never reads. It is a
 * Python process because only there can a test shrink the socket's receive buffer (SO_RCVBUF) before connecting,
 * so the server's output backs up after kilobytes instead of the megabytes loopback buffers would absorb.
 * Debian's /usr/bin/python3 standard library only.
 */
export async function startStalledReader(options: StalledReaderOptions): Promise<StalledReader> {
  const script = String.raw`
import os, socket, sys, time
port, path, bearer, first = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
auth = ("Authorization: Bearer %s\r\n" % bearer) if bearer else ""
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n" % (path, port, auth)).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
if first:
    payload = first.encode()
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
print(head.split(b"\r\n")[0].decode(), flush=True)
time.sleep(60)
`;
  const child = spawn('/usr/bin/python3', ['-c', script, String(options.port), options.path, options.bearer ?? '', options.firstMessage ?? '']);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) {
        if (out.startsWith('HTTP/1.1 101')) {
          resolve();
        } else {
          reject(new Error(`handshake refused: ${out}`));
        }
      }
    });
    void exited.then(() => {
      reject(new Error('stalled reader exited before the handshake'));
    });
  });
  return { kill: () => child.kill('SIGKILL'), exited };
}
