// `npm run demo`: Gatehouse on the embedded database with local accounts and a printed demo login, and the demo
// notes MCP server protected by the resource-server kit. Point MCP Inspector or the SDK's example client at the
// printed MCP URL and walk the whole flow: 401 → discovery → registration → sign-in → consent → tools.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { environment, loadConfig } from '../src/config.js';
import { startGatehouse } from '../src/gatehouse.js';
import { createLogger } from '../src/log.js';
import { addStaticClient } from '../src/oauth/static-clients.js';
import { generatePassword } from '../src/upstream/local/accounts.js';
import { readBootstrapAdmin } from '../src/upstream/local/bootstrap-admin.js';
import { NOTES_APPROVALS, NOTES_SCOPES, startNotesServer } from './notes-server.js';

const env = environment();
const gatehousePort = Number(env.PORT ?? 8080);
const mcpPort = Number(env.DEMO_MCP_PORT ?? 3001);
const dataDir = env.DATA_DIR ?? './data/demo';
const issuer = env.ISSUER ?? `http://localhost:${gatehousePort}`;
const resource = `http://localhost:${mcpPort}/mcp`;
const DEMO_EMAIL = 'demo@example.com';

mkdirSync(dataDir, { recursive: true });
// A demo login (an administrator, so the console can be tried too): its password is kept beside the demo database so
// every run can print it, and Gatehouse creates it at start as BOOTSTRAP_ADMIN_EMAIL (README, "Configuration"), so a
// demo never meets the first-administrator setup link.
const passwordFile = join(dataDir, 'demo-password.txt');
if (!existsSync(passwordFile)) writeFileSync(passwordFile, `${generatePassword()}\n`, { mode: 0o600 });
const config = loadConfig({
  ...env,
  PORT: String(gatehousePort),
  HOST: env.HOST ?? '127.0.0.1',
  ISSUER: issuer,
  DATA_DIR: dataDir,
  LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
  RESOURCES: JSON.stringify([{ uri: resource, name: 'Demo notes', description: 'A notes service protected by Gatehouse', scopes: NOTES_SCOPES, tool_approval: NOTES_APPROVALS, default: true }]),
  BOOTSTRAP_ADMIN_EMAIL: DEMO_EMAIL,
  BOOTSTRAP_ADMIN_PASSWORD_FILE: passwordFile,
});
const gatehouse = await startGatehouse(config, { log: createLogger(config.LOG_LEVEL), bootstrapAdmin: readBootstrapAdmin(config) });
const password = readFileSync(passwordFile, 'utf8').trim();
// The notes server's own confidential client (what `gatehouse client add --confidential --resource <uri>` makes), so
// it reports its tools and every tool call; created once, its secret kept beside the demo database like the password.
const reporterFile = join(dataDir, 'notes-server-client.json');
let reporter = existsSync(reporterFile) ? (JSON.parse(readFileSync(reporterFile, 'utf8')) as { clientId: string; clientSecret: string }) : undefined;
if (!reporter || !(await gatehouse.services.registry.find(reporter.clientId))) {
  const { services } = gatehouse;
  const created = await addStaticClient(
    { db: services.handle.db, box: services.box, provider: gatehouse.holder.provider, registry: services.registry },
    { name: 'Demo notes server', redirectUris: [], confidential: true, resource, redirectUriSchemes: config.REDIRECT_URI_SCHEMES },
  );
  await services.audit.record({ type: 'client.created', outcome: 'success', actor: 'system', clientId: created.client_id, reason: 'npm run demo: the notes server reports as this client' });
  reporter = { clientId: created.client_id, clientSecret: created.client_secret! };
  writeFileSync(reporterFile, JSON.stringify(reporter), { mode: 0o600 });
}
const notes = await startNotesServer({ issuer, port: mcpPort, host: '127.0.0.1', resource, report: reporter });

process.stdout.write(`
Gatehouse demo
  authorization server  ${issuer}
  MCP server (notes)    ${notes.url}
  admin console         ${issuer}/console
  sign in as            ${DEMO_EMAIL}
  password              ${password}

Try it:
  npx @modelcontextprotocol/inspector      then connect to ${notes.url} (Streamable HTTP)
Tools: list_notes, read_note, whoami (notes:read) · add_note (notes:write) · delete_note (notes:delete; you approve
each call at ${issuer}/account, or at the link the client shows)
The console's MCP server page lists the tools the notes server reported; its audit log, every tool call.
Ctrl-C to stop.
`);

const stop = async () => {
  await notes.close();
  await gatehouse.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
