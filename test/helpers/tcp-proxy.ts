// A TCP proxy between Gatehouse and PostgreSQL that a test can cut and restore, to take the database away from one
// server without touching the shared PostgreSQL cluster. Cutting destroys every open connection (the server sees
// its pooled connections die) and, until restored, accepts new connections but never forwards a byte: the worst
// case, a partitioned host, which only timeouts can detect.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** A copy of `url` (a postgres:// URL) that goes through the proxy. */
  through(url: string): string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** `port`: listen there (a database that appears on a port a server was told to use); any free one by default. */
export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  let up = true;
  const open = new Set<Socket>();
  const track = (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (!up) return; // held open, silent: a connect that never completes its startup
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const listening = (server.address() as { port: number }).port;
  return {
    port: listening,
    through(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(listening);
      return u.toString();
    },
    cut() {
      up = false;
      for (const s of open) s.destroy();
    },
    restore() {
      // Sockets accepted while cut were never forwarded: drop them, so their clients fail now and reconnect.
      for (const s of open) s.destroy();
      up = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
