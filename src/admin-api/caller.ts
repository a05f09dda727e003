// Who calls the admin API (docs/ADMIN-API.md, "Authentication"), and with which scopes. Two ways in, never a static
// key: a Gatehouse access token of an admin API client (client_credentials, audience = the admin API, scopes
// admin:read / admin:write), or an administrator's console session (the console's cookie, sent only to the
// console's path, so the browser form of the API lives under /console/api/v1) with a CSRF header on every change.
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Context } from 'koa';
import { CLI_ACTOR, personActor, type Actor } from '../admin/actor.js';
import { isLoopback, type LocalCliKey } from './local-cli-credentials.js';
import type Provider from 'oidc-provider';
import type { ClientRegistry } from '../oauth/client-registry.js';
import { ADMIN_API_PROPERTY } from '../oauth/policies/client-metadata/client-admin-properties.js';
import type { KeySet } from '../oauth/keys.js';
import type { Administrators } from '../console/admins.js';
import { CONSOLE_COOKIE, type ConsoleSessions } from '../console/sessions.js';
import type { Accounts } from '../upstream/accounts.js';
import type { AdminScope } from './operation.js';

export interface Caller {
  actor: Actor;
  scopes: ReadonlySet<AdminScope>;
  /** How the caller came in: decides the refusal's shape (a Bearer challenge or not). */
  via: 'token' | 'session';
}

/** A refusal before any operation runs: 401 (who are you) or 403 (not allowed). */
export class CallerRefusal extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly error: 'invalid_token' | 'access_denied' | 'insufficient_scope',
    message: string,
    /** Whether a credential was presented at all (RFC 6750 §3.1: no error code when none was). */
    readonly presented = true,
    /** Who it was, when known (a signed-in administrator without the CSRF header): the audit names them. */
    readonly actor?: string,
  ) {
    super(message);
  }
}

export type Authenticate = (ctx: Context) => Promise<Caller>;

const origin = (ctx: Context) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 300) || undefined });

/**
 * A bearer access token Gatehouse issued to a still-active admin API client; or, from a loopback address, the key a
 * server on the embedded database made for the CLI beside it (local-cli-credentials.ts).
 */
export function bearerCaller(deps: { issuer: string; audience: string; keys: () => KeySet; registry: ClientRegistry; provider: () => Provider; localCli?: LocalCliKey | undefined }): Authenticate {
  let jwks: { source: unknown; verify: ReturnType<typeof createLocalJWKSet> } | undefined;
  const keySet = () => {
    const current = deps.keys();
    if (jwks?.source !== current) jwks = { source: current, verify: createLocalJWKSet(current.publicJwks() as never) };
    return jwks.verify;
  };
  return async (ctx) => {
    const header = ctx.get('authorization');
    if (!header) throw new CallerRefusal(401, 'invalid_token', 'Send an access token of an admin API client: Authorization: Bearer <token>.', false);
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
    if (!match) throw new CallerRefusal(401, 'invalid_token', 'The Authorization header is not a Bearer token.');
    if (deps.localCli && match[1]!.startsWith('ghcli_')) {
      if (!isLoopback(ctx.ip) || !deps.localCli.matches(match[1]!)) throw new CallerRefusal(401, 'invalid_token', 'The local CLI key is not this server\'s, or was sent from another host.');
      return { actor: { ...CLI_ACTOR, ...origin(ctx) }, scopes: new Set<AdminScope>(['admin:read', 'admin:write']), via: 'token' };
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1]!, keySet(), { issuer: deps.issuer, audience: deps.audience, typ: 'at+jwt', algorithms: ['ES256', 'RS256'] }));
    } catch {
      throw new CallerRefusal(401, 'invalid_token', 'The access token is not valid for the admin API (expired, altered, or issued for another audience).');
    }
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : '';
    const client = clientId ? await deps.registry.findForGate(clientId) : undefined;
    if (!client || client.origin !== 'static' || client.status !== 'active') {
      throw new CallerRefusal(401, 'invalid_token', 'The client this token was issued to is disabled or gone.');
    }
    // The client as it is now: a token outlives neither its client's admin scopes being narrowed nor the client being
    // deleted and created again under the same id (docs/ADMIN-API.md, "Tokens").
    const current = (await deps.provider().Client.find(clientId).catch(() => undefined)) as unknown as Record<string, unknown> | undefined;
    const given = new Set(typeof current?.[ADMIN_API_PROPERTY] === 'string' ? String(current[ADMIN_API_PROPERTY]).split(' ') : []);
    const issuedAt = typeof current?.clientIdIssuedAt === 'number' ? current.clientIdIssuedAt : 0;
    if (!given.size || (typeof payload.iat === 'number' && payload.iat < issuedAt)) {
      throw new CallerRefusal(401, 'invalid_token', 'The client this token was issued to is no longer an admin API client, or was created again since.');
    }
    const scopes = new Set(String(payload.scope ?? '').split(' ').filter((s): s is AdminScope => (s === 'admin:read' || s === 'admin:write') && given.has(s)));
    return { actor: { kind: 'api_client', id: clientId, label: clientId, ...origin(ctx) }, scopes, via: 'token' };
  };
}

/** An administrator's console session; a change must carry the session's CSRF token in `X-CSRF-Token`. */
export function sessionCaller(deps: { issuer: string; sessions: ConsoleSessions; accounts: Accounts; admins: Administrators }): Authenticate {
  const issuerOrigin = new URL(deps.issuer).origin;
  return async (ctx) => {
    const session = await deps.sessions.find(ctx.cookies.get(CONSOLE_COOKIE));
    if (!session) throw new CallerRefusal(401, 'invalid_token', 'Sign in to the console first.', false);
    const account = await deps.accounts.findById(session.accountId);
    if (!account || !(await deps.admins.isAdmin(account))) throw new CallerRefusal(403, 'access_denied', 'Your account is not an administrator of this Gatehouse.', true, account ? (account.email ?? account.id) : undefined);
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    if (!reading) {
      const sent = ctx.get('origin');
      if ((sent && sent !== issuerOrigin) || !deps.sessions.csrfMatches(session, ctx.get('x-csrf-token'))) {
        throw new CallerRefusal(403, 'access_denied', 'A change from a console session needs the same origin and the session\'s CSRF token in X-CSRF-Token.', true, account.email ?? account.id);
      }
    }
    return { actor: personActor(account, origin(ctx)), scopes: new Set<AdminScope>(['admin:read', 'admin:write']), via: 'session' };
  };
}
