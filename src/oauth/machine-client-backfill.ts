// Clients an administrator created before the machine mark existed (gatehouse_machine_client, policies/
// client-credentials-admin-only.ts) hold client_credentials without it, and the token endpoint now refuses them.
// This gives them the mark, once, at start (seedDatabase: the cluster primary or the single instance).
//
// Why in code and not a migration: client payloads in oidc_payloads are sealed with SECRET_KEY (adapter.ts), which
// migrations do not have, so SQL cannot add a property to them. Why a stored mark rather than reading
// client_registry's origin at /token: the check then needs nothing but the client oidc-provider already loaded (no
// query, no cache to go stale), and clients created before client_registry existed have no row there.
//
// Which clients: stored, an administrator's id shape (not `dyn_`, not a URL: registration has minted `dyn_` ids
// and refused client_credentials since the registration rules), authenticated with a secret, listing
// client_credentials, and not recorded as dynamic in the registry. Idempotent: a marked client is never written
// again, so after the first start this only reads the few admin-created clients.
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';
import { PostgresAdapter, storedClientIds } from './adapter.js';
import { clientKind, DYNAMIC_CLIENT_PREFIX } from './client-kind.js';
import type { ClientRegistry } from './client-registry.js';
import { MACHINE_CLIENT_PROPERTY } from './policies/client-metadata/client-admin-properties.js';

/** Marks the admin-created confidential clients that lack the mark; returns their ids. */
export async function backfillMachineClientMark(db: Db, box: SecretBox, registry: ClientRegistry): Promise<string[]> {
  const adapter = new PostgresAdapter('Client', { db, box });
  const marked: string[] = [];
  for (const id of await storedClientIds(db, DYNAMIC_CLIENT_PREFIX)) {
    if (clientKind(id) !== 'static') continue;
    const payload = (await adapter.find(id)) as Record<string, unknown> | undefined;
    if (!payload || payload[MACHINE_CLIENT_PROPERTY] === true) continue;
    const grants = Array.isArray(payload.grant_types) ? payload.grant_types : [];
    const method = payload.token_endpoint_auth_method ?? 'client_secret_basic';
    if (!grants.includes('client_credentials') || method === 'none') continue;
    if ((await registry.find(id))?.origin === 'dynamic') continue;
    await adapter.upsert(id, { ...payload, [MACHINE_CLIENT_PROPERTY]: true } as never, 0);
    marked.push(id);
  }
  return marked;
}
