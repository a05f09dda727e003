// Starts a real Gatehouse on an ephemeral port (real HTTP, real database) for integration tests.
import { createServer } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { startGatehouse, type RunningGatehouse, type StartOptions } from '../../src/gatehouse.js';
import { createLogger } from '../../src/log.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
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
    ...env,
  });
  const running = await startGatehouse(config, { ...options, log: createLogger(config.LOG_LEVEL) });
  return { ...running, issuer, port: p };
}
