// RFC 8693 token exchange at /token (docs/DELEGATION.md): an MCP server, authenticated as its own confidential client
// bound to its resource, trades the Gatehouse access token a person's client sent it for
// - the person's upstream token at a connection (`audience=<connection id>`, optional upstream `resource` and
//   `scope`), from the token vault; or
// - a Gatehouse token for another registered MCP server (`resource=<its URI>`), naming the calling server as the
//   actor (`act: {sub: <client id>}`), with scopes the person granted.
// Rules, in order: the caller is an admin-created confidential client bound to an MCP server; the subject token
// verifies with Gatehouse's keys and its `aud` is exactly that server (a server exchanges only tokens minted for it:
// no confused deputy); it is not itself delegated; the grant behind it is live, its client still active, and the
// person still admitted (disabled, deprovisioned, the sign-in policy and the server's access rules of today); the
// server's delegation policy lists the target and the scopes. Each refusal is an OAuth error, audited by
// audit/provider-events.ts as `token.refused`; each success as `token.issued`.
import { accountActive } from '../../upstream/accounts.js';
import type { Context, Middleware } from 'koa';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { AccessTokenChecker, type TokenBinding } from '../access-token.js';
import { clientKind } from '../client-kind.js';
import { RESOURCE_PROPERTY } from '../policies/client-metadata/client-admin-properties.js';
import { TOKEN_EXCHANGE } from '../policies/client-metadata/client-grant-types.js';
import { TemporarilyUnavailable } from '../temporarily-unavailable.js';
import { currentAccessRefusal } from '../policies/hooks/current-access.js';
import type { Resource } from '../resources.js';
import { connectAccountUrl } from '../../upstream/connect-url.js';
import { VaultUnavailable } from '../../upstream/token-vault.js';
import { setActor } from './actor.js';
import type { GrantDeps, GrantType } from './index.js';

export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** oidc-provider's InvalidGrant keeps its detail to itself; a refusal here says what failed. */
function invalidGrant(description: string): errors.CustomOIDCProviderError {
  return new errors.CustomOIDCProviderError('invalid_grant', description);
}

/** invalid_scope naming the scope in its description only (never the caller's value echoed whole as `scope`). */
function invalidScope(description: string): errors.InvalidScope {
  return Object.assign(new errors.InvalidScope(description, ''), { scope: undefined });
}

const one = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** A value the caller sent, as a refusal quotes it: short and printable. */
const quoted = (v: string) => `"${(v.length > 100 ? `${v.slice(0, 100)}...` : v).replace(/[^\x20-\x7E]|"/g, '?')}"`;
/** The policy's list for a target: own keys only (a connection named `constructor` finds nothing inherited). */
const listed = (m: Record<string, string[]>, key: string): string[] | undefined => (Object.hasOwn(m, key) ? m[key] : undefined);
const scopesOf = (v: unknown): string[] => [...new Set((one(v) ?? '').split(' ').filter(Boolean))];

/** The MCP server the calling client speaks for, or a refusal: only its own confidential client may exchange. */
async function callingServer(ctx: KoaContextWithOIDC, deps: GrantDeps): Promise<Resource> {
  const client = ctx.oidc.client!;
  if (client.clientAuthMethod === 'none' || clientKind(client.clientId) !== 'static') {
    throw new errors.UnauthorizedClient('token exchange is only for an MCP server\'s own confidential client, created by an administrator');
  }
  const bound = (client as unknown as Record<string, unknown>)[RESOURCE_PROPERTY];
  const server = typeof bound === 'string' ? await deps.resources.find(bound) : undefined;
  if (!server) throw new errors.UnauthorizedClient('this client is not bound to a registered MCP server (client add --resource)');
  return server;
}

/** The person behind the subject token, with a live grant; a refusal names what failed. */
async function subjectOf(ctx: KoaContextWithOIDC, deps: GrantDeps, checker: AccessTokenChecker, server: Resource): Promise<TokenBinding> {
  const { params } = ctx.oidc;
  if (params!.subject_token_type !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  if (params!.actor_token !== undefined || params!.actor_token_type !== undefined) {
    throw new errors.InvalidRequest('actor_token is not supported: the authenticated client is the actor');
  }
  if (params!.requested_token_type !== undefined && params!.requested_token_type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  let binding: TokenBinding;
  try {
    binding = await checker.check(String(params!.subject_token), server.uri);
  } catch (err) {
    throw invalidGrant(`subject_token: ${(err as Error).message.replace('access_token ', '')}`);
  }
  if (binding.actor !== undefined) throw invalidGrant('subject_token was itself obtained by token exchange: it cannot be exchanged again');
  const grant = await ctx.oidc.provider.Grant.find(binding.grantId);
  if (!grant || grant.accountId !== binding.accountId || grant.clientId !== binding.clientId) {
    throw invalidGrant('the grant behind subject_token was revoked or has expired');
  }
  // A client an administrator disabled (or has not approved) can use none of its tokens, here neither.
  const status = (await deps.registry.findForGate(binding.clientId))?.status ?? 'active';
  if (status !== 'active') throw invalidGrant(`the client subject_token was issued to is ${status === 'pending' ? 'awaiting approval' : 'disabled'}`);
  const account = await deps.accounts.findById(binding.accountId);
  if (!account || !accountActive(account)) throw invalidGrant('the person behind subject_token may no longer sign in');
  // Narrowing a policy ends access: the sign-in policy and the calling server's rules as they are today.
  const refusal = await currentAccessRefusal(deps, account, [{ resource: server.uri, scopes: binding.scopes }]);
  if (refusal) throw invalidGrant(refusal);
  return binding;
}

/** Scopes the caller asked for, each allowed by `allowed` (a refusal names the first that is not). */
function requestedWithin(requested: string[], allowed: readonly string[], what: string): void {
  const outside = requested.find((s) => !allowed.includes(s));
  if (outside) throw invalidScope(`scope ${quoted(outside)} is not one this MCP server may obtain ${what}`);
}

async function upstreamToken(ctx: KoaContextWithOIDC, deps: GrantDeps, server: Resource, binding: TokenBinding, connectionId: string): Promise<void> {
  const { params } = ctx.oidc;
  const allowed = listed(server.delegation.connections, connectionId);
  if (!allowed) throw new errors.InvalidTarget(`this MCP server may not obtain tokens for the connection ${quoted(connectionId)} (its delegation policy)`);
  const connection = await deps.connections.find(connectionId);
  if (!connection || connection.kind === 'local') throw new errors.InvalidTarget(`${quoted(connectionId)} is not a connection to an identity provider`);
  // A disabled connection hands out no upstream token, stored or fresh (docs/SECURITY.md, "A disabled connection
  // refuses all but revocations").
  if (!connection.enabled) throw new errors.InvalidTarget(`the connection ${quoted(connectionId)} is turned off by an administrator`);
  const scopes = scopesOf(params!.scope);
  requestedWithin(scopes, allowed, `at ${connectionId}`);
  // An upstream resource (Entra: another API under the same refresh token) is listed in the policy like a scope.
  const resource = one(params!.resource);
  if (resource && !allowed.includes(resource)) throw new errors.InvalidTarget(`this MCP server may not obtain tokens for ${quoted(resource)} at ${connectionId} (its delegation policy)`);
  let answer;
  try {
    answer = await deps.vault.accessToken(binding.accountId, connectionId, { scopes, resource });
  } catch (err) {
    if (!(err instanceof VaultUnavailable)) throw err;
    ctx.set('Retry-After', String(err.retryAfterSeconds));
    throw new TemporarilyUnavailable(`${connection.name} could not be reached to refresh the person's token; nothing was revoked. Try again later.`);
  }
  if (answer.kind === 'token') {
    ctx.body = {
      access_token: answer.accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      ...(answer.expiresAt ? { expires_in: Math.max(0, Math.floor((answer.expiresAt.getTime() - Date.now()) / 1000)) } : {}),
      ...(answer.scope ? { scope: answer.scope } : {}),
    };
    return;
  }
  const description = {
    not_linked: `the person has not connected their ${connection.name} account: send them to connect_url`,
    needs_reauth: `the person must connect their ${connection.name} account again: send them to connect_url`,
    insufficient_scope: `the person has not granted ${connection.name} the scopes asked for: send them to connect_url`,
  }[answer.kind];
  return connectRequired(ctx, description, connectAccountUrl(deps.config.ISSUER, connectionId, { scopes: answer.kind === 'insufficient_scope' ? answer.missing : scopes, clientId: binding.clientId }));
}

// The page where the person fixes a refusal, per request: thrown as an ordinary invalid_grant (audited as every
// refusal), and added to the error body on its way out by `connectUrlInAnswer`.
const connectUrls = new WeakMap<object, string>();

/** invalid_grant with the page where the person fixes it (the MCP server shows it in a URL-mode elicitation). */
function connectRequired(ctx: KoaContextWithOIDC, description: string, url: string): never {
  connectUrls.set(ctx, url);
  throw invalidGrant(description);
}

/** A rule of the token route (src/policy-table.ts): a token exchange's `connect_url` joins its invalid_grant answer. */
export function connectUrlInAnswer(): Middleware {
  return async (ctx: Context, next) => {
    await next();
    const url = connectUrls.get(ctx);
    const body = ctx.body as Record<string, unknown> | undefined;
    if (url && ctx.status === 400 && body && typeof body === 'object' && body.error === 'invalid_grant') body.connect_url = url;
  };
}

async function downstreamToken(ctx: KoaContextWithOIDC, deps: GrantDeps, server: Resource, binding: TokenBinding, target: string): Promise<void> {
  const { client, params, provider } = ctx.oidc;
  const downstream = await deps.resources.find(target);
  if (!downstream) throw new errors.InvalidTarget(`${quoted(target)} is neither a connection nor a registered MCP server`);
  const allowed = listed(server.delegation.resources, downstream.uri);
  if (!allowed) throw new errors.InvalidTarget(`this MCP server may not obtain tokens for ${downstream.uri} (its delegation policy)`);
  const requested = scopesOf(params!.scope);
  // Nothing named: everything the policy allows that the person granted and the server defines.
  const scopes = requested.length ? requested : allowed.filter((s) => binding.scopes.includes(s) && Object.hasOwn(downstream.scopes, s));
  requestedWithin(scopes, allowed, `at ${downstream.uri}`);
  const undefinedScope = scopes.find((s) => !Object.hasOwn(downstream.scopes, s));
  if (undefinedScope) throw invalidScope(`${downstream.uri} defines no scope ${quoted(undefinedScope)}`);
  const notGranted = scopes.find((s) => !binding.scopes.includes(s));
  if (notGranted) throw invalidScope(`the person did not grant ${quoted(notGranted)}: a delegated token carries at most what subject_token does`);
  if (!scopes.length) throw invalidScope('no scope both allowed by the delegation policy and granted by the person');
  const person = await deps.accounts.findById(binding.accountId);
  const refusal = person && (await currentAccessRefusal(deps, person, [{ resource: downstream.uri, scopes }]));
  if (refusal) throw invalidGrant(refusal);

  // A token for the downstream server as any other (its audience, signing key, lifetime), never outliving the token
  // it was exchanged for.
  const info = await deps.resourceServerInfo(ctx, downstream.uri, client!);
  const expiresIn = Math.max(1, Math.min(info.accessTokenTTL ?? deps.config.ACCESS_TOKEN_TTL, binding.expiresAt - Math.floor(Date.now() / 1000)));
  const token = new provider.AccessToken({
    accountId: binding.accountId,
    client: client!,
    grantId: binding.grantId,
    gty: TOKEN_EXCHANGE,
    scope: scopes.join(' '),
    expiresIn,
  });
  token.resourceServer = new provider.ResourceServer(downstream.uri, { ...info, scope: scopes.join(' '), accessTokenTTL: expiresIn });
  setActor(token, { sub: client!.clientId });
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  ctx.body = { access_token: value, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: token.expiration, scope: scopes.join(' ') };
}

export const tokenExchangeGrant: GrantType = {
  name: TOKEN_EXCHANGE,
  params: ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope'],
  handler: (deps) => {
    const checker = new AccessTokenChecker(deps.config.ISSUER, deps.keys);
    return async (ctx) => {
      const oidc = (ctx as KoaContextWithOIDC).oidc;
      const server = await callingServer(ctx as KoaContextWithOIDC, deps);
      if (!one(oidc.params!.subject_token)) throw new errors.InvalidRequest('subject_token is required');
      const binding = await subjectOf(ctx as KoaContextWithOIDC, deps, checker, server);
      const audience = one(oidc.params!.audience);
      const resource = one(oidc.params!.resource);
      // A connection is named by `audience`; another MCP server by `resource` (or `audience` = its URI).
      if (audience && !/^[a-z][a-z0-9+.-]*:/i.test(audience)) return upstreamToken(ctx as KoaContextWithOIDC, deps, server, binding, audience);
      const target = resource ?? audience;
      if (!target) throw new errors.InvalidRequest('name a connection (audience) or an MCP server (resource)');
      if (audience && resource && audience !== resource) throw new errors.InvalidRequest('audience and resource name different MCP servers');
      return downstreamToken(ctx as KoaContextWithOIDC, deps, server, binding, target);
    };
  },
};
