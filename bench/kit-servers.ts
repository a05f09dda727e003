// Child process of kit-verify.ts for the HTTP part: two MCP-shaped endpoints on loopback, one protected by the kit,
// one doing by hand what README's "For MCP server authors" shows (bearer regex, body read, jose.jwtVerify against a
// remote JWKS, tools/call scope check). Prints `{ raw, kit, token }` as one JSON line, then serves until killed.
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
process.stdout.write(`${JSON.stringify({ raw: await listen(raw), kit: await listen(kit), token: fx.token })}\n`);
