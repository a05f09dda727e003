// Child process of kit-audit.ts: four endpoints on loopback behind the kit (the package as users install it, built
// in packages/resource-server/dist), in pairs that differ only in the tool-call audit — off, or on and shipping to
// the reporting API named by BENCH_SINK:
//   bare — a handler that answers tools/call with a constant: the kit's whole cost against nearly nothing;
//   sdk  — the README's server: a new McpServer and Streamable HTTP transport per request (the official SDK).
// Prints `{ bareOff, bareOn, sdkOff, sdkOn, token }` as one JSON line; on SIGINT prints the audited guards' queue
// counters as one more line and exits.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { protectedResource, type Authenticated, type ProtectedResource } from '@gatehouse/resource-server';
import { z } from 'zod';
import { makeFixture } from './fixture.js';

const fx = await makeFixture();
const ANSWER = '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}';
const sink = process.env.BENCH_SINK;
if (!sink) throw new Error('BENCH_SINK: the reporting API to ship to');

const guardFor = (audit: boolean) =>
  protectedResource({
    issuer: fx.issuer,
    resource: fx.resource,
    scopes: ['tools:read', 'tools:write'],
    toolScopes: { deploy: ['tools:write'] },
    ...(audit ? { report: { clientId: 'bench-reporter', clientSecret: 'bench-secret', url: sink } } : {}),
  });

function bare(guard: ProtectedResource) {
  return guard.handler((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(ANSWER);
  });
}

function sdk(guard: ProtectedResource) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const auth: Authenticated | undefined = await guard.authenticate(req, res);
    if (!auth) return;
    const server = new McpServer({ name: 'bench', version: '1.0.0' });
    server.registerTool('deploy', { description: 'Deploy', inputSchema: { target: z.string(), replicas: z.number() } }, async ({ target, replicas }) => ({
      content: [{ type: 'text', text: `deployed ${replicas} to ${target}` }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, auth.body);
  };
}

const audited = { bare: guardFor(true), sdk: guardFor(true) };
const endpoints = {
  bareOff: bare(guardFor(false)),
  bareOn: bare(audited.bare),
  sdkOff: sdk(guardFor(false)),
  sdkOn: sdk(audited.sdk),
};
const urls: Record<string, string> = { token: fx.token };
for (const [name, handler] of Object.entries(endpoints)) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}
process.stdout.write(`${JSON.stringify(urls)}\n`);

process.once('SIGINT', () => {
  void Promise.all([audited.bare.close(2000), audited.sdk.close(2000)]).then(([bareStats, sdkStats]) => {
    process.stdout.write(`${JSON.stringify({ bare: bareStats, sdk: sdkStats })}\n`);
    process.exit(0);
  });
});
