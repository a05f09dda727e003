// Just enough of the PostgreSQL wire protocol to refuse a connection the way a real server does: it reads the startup
// message and answers with an ErrorResponse (SQLSTATE and message), then closes. What a wrong password (28P01) or a
// missing database (3D000) looks like to a client, on a machine whose own PostgreSQL trusts every local connection.
import { createServer, type Server, type Socket } from 'node:net';

export interface FakePostgres {
  port: number;
  /** Connections that sent a startup message. */
  attempts(): number;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;

function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([
    ...[['S', 'FATAL'], ['V', 'FATAL'], ['C', code], ['M', message]].map(([type, value]) => Buffer.from(`${type}${value}\0`, 'utf8')),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0, 'ascii');
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}

export async function startFakePostgres(error: { code: string; message: string }): Promise<FakePostgres> {
  let attempts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk as Buffer]);
      while (buffered.length >= 8 && buffered.length >= buffered.readInt32BE(0)) {
        const length = buffered.readInt32BE(0);
        const code = buffered.readInt32BE(4);
        buffered = buffered.subarray(length);
        if (code === SSL_REQUEST) {
          socket.write('N'); // no TLS here; the client goes on in the clear, as with sslmode=prefer
          continue;
        }
        attempts++;
        socket.end(errorResponse(error.code, error.message));
        return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    attempts: () => attempts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
