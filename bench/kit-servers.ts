// Child process of kit-verify.ts and kit-audit.ts for the HTTP part: MCP-shaped endpoints on loopback, one protected
// by the kit, one doing by hand what README's "For MCP server authors" shows (bearer regex, body read,
// jose.jwtVerify against a remote JWKS, tools/call scope check), and — when BENCH_SINK names a reporting API — one
// protected by the kit with the tool-call audit shipping to it. Prints `{ raw, kit, audited?, token }` as one JSON
// line, then serves until killed.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { protectedResource } from '../packages/resource-server/src/index.js';
import { makeFixture } from './fixture.js';

const fx = await makeFixture();
const ANSWER = '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}';

const guard = protectedResource({ issuer: fx.issuer, resource: fx.resource, scopes: ['tools:read', 'tools:write'], toolScopes: { deploy: ['tools:write'] } });
const kit = createServer(guard.handler((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(ANSWER);
}));

// The same guard with the tool-call audit on: every call recorded from its response and shipped in batches.
const sink = process.env.BENCH_SINK;
const auditedGuard = sink
  ? protectedResource({
        issuer: fx.issuer,
        resource: fx.resource,
        scopes: ['tools:read', 'tools:write'],
        toolScopes: { deploy: ['tools:write'] },
        report: { clientId: 'bench-reporter', clientSecret: 'bench-secret', url: sink },
      })
  : undefined;
const audited = auditedGuard?.handler((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(ANSWER);
});

const jwks = createRemoteJWKSet(new URL(`${fx.issuer}/jwks`));
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
const raw = createServer(async (req: IncomingMessage, res: ServerResponse) => {
  try {
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) throw new Error('no token');
    const { payload } = await jwtVerify(token, jwks, { issuer: fx.issuer, audience: fx.resource, typ: 'at+jwt', algorithms: ['ES256'] });
    const body = JSON.parse(await readBody(req)) as { method?: string; params?: { name?: string } };
    const scopes = String(payload.scope ?? '').split(' ');
    if (body.method === 'tools/call' && body.params?.name === 'deploy' && !scopes.includes('tools:write')) throw new Error('scope');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(ANSWER);
  } catch {
    res.writeHead(401);
    res.end();
  }
});

const listen = async (s: ReturnType<typeof createServer>) => {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/mcp`;
};
process.stdout.write(`${JSON.stringify({ raw: await listen(raw), kit: await listen(kit), ...(audited ? { audited: await listen(createServer(audited)) } : {}), token: fx.token })}\n`);
// On SIGINT: the audited guard flushes and prints its counters (kit-audit.ts reads them); exiting lets --cpu-prof
// write its profile.
process.once('SIGINT', () => {
  void (auditedGuard?.close(2000) ?? Promise.resolve(undefined)).then((stats) => {
    if (stats) process.stdout.write(`${JSON.stringify(stats)}\n`);
    process.exit(0);
  });
});
