// The person's connected apps (docs/CONNECTED-APPS.md): every client they authorized that still holds a live grant,
// said in words, and revoking one or all of them. Only the person's own grants are ever found: another person's grant
// id is answered exactly like one that does not exist. Revoking deletes every token and code of the grant and the
// remembered consent at once (oauth/adapter.ts revokeGrant), so its refresh tokens stop now; access tokens already
// issued live until they expire (docs/ARCHITECTURE.md, "Decisions and deviations"). Every revocation is audited.
import type { AuditLog } from '../audit/writer.js';
import type { Db } from '../db/connection.js';
import { clientIdentity } from '../interaction/client-facts.js';
import { OIDC_SCOPE_TEXT } from '../interaction/oidc-scope-text.js';
import { grantsOfAccount, revokeGrant, type GrantSummary } from '../oauth/adapter.js';
import type { CimdClients } from '../oauth/cimd/cimd-clients.js';
import type { ClientKind } from '../oauth/client-kind.js';
import type { ClientRegistry } from '../oauth/client-registry.js';
import type { FirstPartyClients } from '../oauth/first-party-clients.js';
import type { GrantActivity } from '../oauth/grant-activity.js';
import type { ResourceRegistry } from '../oauth/resources.js';

export interface ConnectedAppsDeps {
  db: Db;
  audit: AuditLog;
  resources: ResourceRegistry;
  registry: ClientRegistry;
  cimdClients: CimdClients;
  /** Gatehouse's own sign-in clients: their grants only live for the length of a sign-in and are not apps. */
  firstParty: FirstPartyClients;
  activity: GrantActivity;
}

/** Who revokes and from where: the person's email (or account id) as the audit actor, the request's address. */
export interface RevocationOrigin {
  actor: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface ScopeInWords {
  name: string;
  description: string;
}

export interface ConnectedApp {
  grantId: string;
  clientId: string;
  clientName: string;
  clientKind: ClientKind;
  /** A metadata-document client's host, which vouches for it. */
  clientHost: string | undefined;
  verified: boolean;
  servers: Array<{ uri: string; name: string; scopes: ScopeInWords[] }>;
  /** OpenID Connect scopes granted beside the servers (who the person is). */
  identity: ScopeInWords[];
  grantedAt: Date;
  lastUsedAt: Date | null;
  lastIp: string | null;
  lastUserAgent: string | null;
}

/** A revoked grant, and the client's name for the page that says so. */
export interface RevokedApp {
  grantId: string;
  clientId: string;
  clientName: string;
}

const GRANT_ID_MAX = 200;

export class ConnectedApps {
  constructor(private readonly deps: ConnectedAppsDeps) {}

  /** The person's connected apps, newest grant first. */
  async list(accountId: string): Promise<ConnectedApp[]> {
    const grants = await this.#grants(accountId);
    if (!grants.length) return [];
    const activity = await this.deps.activity.ofAccount(accountId);
    const names = await this.#storedNames(grants);
    const apps: ConnectedApp[] = [];
    for (const g of grants) {
      const used = activity.get(g.grantId);
      apps.push({
        grantId: g.grantId,
        clientId: g.clientId,
        ...clientIdentity({ clientId: g.clientId, clientName: names.get(g.clientId) }),
        servers: await Promise.all(
          Object.entries(g.resources).map(async ([uri, scopes]) => {
            const resource = await this.deps.resources.find(uri);
            return { uri, name: resource?.name ?? uri, scopes: scopes.map((s) => ({ name: s, description: resource?.scopes[s] ?? '' })) };
          }),
        ),
        identity: (g.openidScope ?? '').split(' ').filter(Boolean).map((s) => ({ name: s, description: OIDC_SCOPE_TEXT[s] ?? '' })),
        grantedAt: g.grantedAt,
        lastUsedAt: used?.lastUsedAt ?? null,
        lastIp: used?.lastIp ?? null,
        lastUserAgent: used?.lastUserAgent ?? null,
      });
    }
    return apps;
  }

  /** Revokes one of the person's grants; undefined (and nothing revoked) when it is not theirs or not live. */
  async revoke(accountId: string, grantId: string, origin: RevocationOrigin): Promise<RevokedApp | undefined> {
    const grant = grantId.length <= GRANT_ID_MAX ? (await this.#grants(accountId)).find((g) => g.grantId === grantId) : undefined;
    if (!grant) {
      await this.deps.audit.record({ type: 'grant.revoked', outcome: 'failure', ...origin, reason: 'no such grant of this person', details: { via: 'account', accountId, grantId: grantId.slice(0, GRANT_ID_MAX) } });
      return undefined;
    }
    await this.#revoke(accountId, grant, origin);
    return (await this.#named([grant]))[0];
  }

  /** Revokes every live grant of the person; returns those revoked. */
  async revokeAll(accountId: string, origin: RevocationOrigin): Promise<RevokedApp[]> {
    const grants = await this.#grants(accountId);
    for (const g of grants) await this.#revoke(accountId, g, origin);
    if (grants.length) {
      await this.deps.audit.record({
        type: 'grants.revoked', outcome: 'success', ...origin,
        details: { via: 'account', accountId, count: grants.length, grantIds: grants.map((g) => g.grantId), clientIds: [...new Set(grants.map((g) => g.clientId))] },
      });
    }
    return this.#named(grants);
  }

  async #revoke(accountId: string, grant: GrantSummary, origin: RevocationOrigin): Promise<void> {
    await revokeGrant(this.deps.db, grant.grantId);
    // What the sweep would delete later anyway (gatehouse.ts): a failure here must not hide the revocation.
    await this.deps.activity.forget([grant.grantId]).catch(() => undefined);
    await this.deps.audit.record({ type: 'grant.revoked', outcome: 'success', ...origin, clientId: grant.clientId, details: { via: 'account', accountId, grantId: grant.grantId, clientId: grant.clientId } });
  }

  async #grants(accountId: string): Promise<GrantSummary[]> {
    return (await grantsOfAccount(this.deps.db, accountId)).filter((g) => !this.deps.firstParty.has(g.clientId));
  }

  /**
   * The name each client gave when it registered or in its metadata document, as stored: a page view never fetches a
   * metadata document.
   */
  async #storedNames(grants: readonly GrantSummary[]): Promise<Map<string, string | null>> {
    const names = new Map<string, string | null>();
    for (const { clientId } of grants) {
      if (names.has(clientId)) continue;
      names.set(clientId, (await this.deps.registry.find(clientId))?.clientName ?? (await this.deps.cimdClients.find(clientId))?.clientName ?? null);
    }
    return names;
  }

  async #named(grants: readonly GrantSummary[]): Promise<RevokedApp[]> {
    const names = await this.#storedNames(grants);
    return grants.map((g) => ({ grantId: g.grantId, clientId: g.clientId, clientName: clientIdentity({ clientId: g.clientId, clientName: names.get(g.clientId) }).clientName }));
  }
}
