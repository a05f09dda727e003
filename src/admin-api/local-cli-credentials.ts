// The CLI beside a server on the embedded database (docs/ADMIN-API.md, "The CLI"): the server holds the database
// exclusively, so the CLI goes through the admin API instead, with credentials the server writes into its data
// directory (0600). Whoever can read that directory can read the database itself, so this gives nobody a right they
// did not have; the client is an ordinary admin API client, visible in the console and audited as itself.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/writer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import type { ClientRegistry } from '../oauth/client-registry.js';
import { addStaticClient, clientMetadata, rotateStaticSecret } from '../oauth/static-clients.js';
import { LOCAL_CLI_FILE } from './invoke.js';

export const LOCAL_CLI_CLIENT_ID = 'gatehouse-local-cli';

export async function writeLocalCliCredentials(deps: { db: Db; box: SecretBox; provider: Provider; registry: ClientRegistry; audit: AuditLog }, where: { dataDir: string; issuer: string; url: string }): Promise<void> {
  const file = join(where.dataDir, LOCAL_CLI_FILE);
  const existing = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>).catch(() => undefined);
  const stored = await clientMetadata(deps.db, deps.box, LOCAL_CLI_CLIENT_ID);
  let secret: string;
  if (stored && (await deps.registry.find(LOCAL_CLI_CLIENT_ID)) && typeof existing?.client_secret === 'string' && existing.client_secret === stored.client_secret) {
    secret = existing.client_secret;
  } else if (stored && (await deps.registry.find(LOCAL_CLI_CLIENT_ID))) {
    // The file was lost or altered: a new secret, so only the new file works.
    secret = await rotateStaticSecret({ db: deps.db, box: deps.box, provider: deps.provider }, LOCAL_CLI_CLIENT_ID, randomBytes(32).toString('base64url'));
    await deps.audit.record({ type: 'client.secret_rotated', outcome: 'success', actor: 'system', clientId: LOCAL_CLI_CLIENT_ID, reason: 'the local CLI credentials file was written again' });
  } else {
    const created = await addStaticClient(
      { db: deps.db, box: deps.box, provider: deps.provider, registry: deps.registry },
      { name: 'Gatehouse CLI (this server\'s data directory)', redirectUris: [], confidential: true, adminApi: 'admin:read admin:write', clientId: LOCAL_CLI_CLIENT_ID },
    );
    secret = created.client_secret!;
    await deps.audit.record({ type: 'client.created', outcome: 'success', actor: 'system', clientId: LOCAL_CLI_CLIENT_ID, details: { kind: 'static', admin_api: 'admin:read admin:write', reason: 'the CLI beside a server on the embedded database' } });
  }
  const content = `${JSON.stringify({ issuer: where.issuer, url: where.url, client_id: LOCAL_CLI_CLIENT_ID, client_secret: secret }, null, 2)}\n`;
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}
