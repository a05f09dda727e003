// A local HTTPS server that plays the host of Client ID Metadata Documents, with a throwaway CA made by the openssl
// CLI for each test file. It listens on 127.0.0.1 only; tests reach it through an injected resolver that maps
// test host names (*.cimd.test) to loopback, so no test ever sends traffic off this machine.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  ca: string;
  key: string;
  cert: string;
}

/** A CA and a server certificate for cimd.test, *.cimd.test, *.wild.cimd.test, 127.0.0.1 and ::1 (valid two days). */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pki-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Gatehouse test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
    run(['req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=cimd.test']);
    writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:cimd.test,DNS:*.cimd.test,DNS:*.wild.cimd.test,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
    run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext']);
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    return { ca: read('ca.pem'), key: read('leaf.key'), cert: read('leaf.pem') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Serves whatever handler is set for a path, and counts requests per path. */
export class DocumentHost {
  readonly handlers = new Map<string, Handler>();
  readonly hits = new Map<string, number>();
  /** The Host header of the last request per path. */
  readonly hostHeaders = new Map<string, string>();
  private server!: Server;
  port = 0;

  constructor(private readonly pki: TestPki) {}

  async start(): Promise<void> {
    this.server = createServer({ key: this.pki.key, cert: this.pki.cert }, (req, res) => {
      const path = new URL(req.url ?? '/', 'https://x').pathname;
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      this.hostHeaders.set(path, req.headers.host ?? '');
      const handler = this.handlers.get(path);
      if (handler) handler(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Serves `body` as JSON with the given extra headers. */
  json(path: string, body: unknown, headers: Record<string, string> = {}): void {
    this.handlers.set(path, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
