// Starts a real Gatehouse on an ephemeral port (real HTTP, real database) for integration tests.
import { createServer } from 'node:net';
import { loadConfiguration as loadConfig } from '../../src/configuration.js';
import { startGatehouse, type RunningGatehouse, type StartOptions } from '../../src/gatehouse.js';
import { createLogger } from '../../src/log.js';

/**
 * A port for a server whose URL must be known before it listens (its ISSUER). Chosen below the kernel's ephemeral
 * range (32768–60999 here), where nothing binding port 0 — another test's IdP, MCP server, callback server or
 * chromium — can be handed it in the seconds between this check and the server's listen.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export const TEST_RESOURCE = 'https://mcp.example.test/mcp';
export const OTHER_RESOURCE = 'https://tools.example.test';

export const DEFAULT_RESOURCES = JSON.stringify([
  { uri: TEST_RESOURCE, name: 'Example MCP', scopes: { 'tools:read': 'List and call read-only tools', 'tools:write': 'Call tools that change data' }, default: true },
  { uri: OTHER_RESOURCE, name: 'Other tools', scopes: { 'files:read': 'Read files' } },
]);

export interface TestServer extends RunningGatehouse {
  issuer: string;
  port: number;
}

export async function startTestServer(env: Record<string, string>, port?: number, options: Omit<StartOptions, 'log'> = {}): Promise<TestServer> {
  const p = port ?? (await freePort());
  const issuer = `http://127.0.0.1:${p}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(p),
    HOST: '127.0.0.1',
    ISSUER: issuer,
    RESOURCES: DEFAULT_RESOURCES,
    LOG_LEVEL: 'silent',
    // Test files register many clients from 127.0.0.1; the rate-limit test sets its own low limit.
    REGISTRATION_RATE_LIMIT: '100000',
    // Likewise for the other limits (http/rate-limits.ts): counted, but never reached; rate-limits.test.ts sets its own.
    TOKEN_RATE_LIMIT: '1000000',
    TOKEN_RATE_LIMIT_IP: '1000000',
    AUTHORIZE_RATE_LIMIT: '1000000',
    LOGIN_RATE_LIMIT: '1000000',
    LOGIN_RATE_LIMIT_IP: '1000000',
    CIMD_RATE_LIMIT: '1000000',
    // Every test client registers from 127.0.0.1: one source. registration-governance.test.ts sets its own cap.
    DCR_MAX_CLIENTS_PER_SOURCE: '1000000',
    // The test IdPs listen on 127.0.0.1: the seeded connection opts in to a private network (docs/SECURITY.md,
    // "Issue 16"); a test of the refusal sets it to false.
    ...(env.UPSTREAM_ISSUER ? { UPSTREAM_ALLOW_PRIVATE_NETWORK: 'true' } : {}),
    // Test files audit many refusals from 127.0.0.1 and look for each; audit-growth.test.ts sets the real limit.
    AUDIT_REPEAT_LIMIT: '1000000',
    ...env,
  });
  const running = await startGatehouse(config, { ...options, log: createLogger(config.LOG_LEVEL) });
  return { ...running, issuer: config.ISSUER, port: p };
}
