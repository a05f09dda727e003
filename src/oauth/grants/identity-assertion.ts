// The identity assertion grant (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md): Enterprise-Managed Authorization's second
// step, draft-ietf-oauth-identity-assertion-authz-grant over RFC 7523. A confidential client presents an ID-JAG that
// an identity provider an administrator trusts for it (a connection with idJag on) signed for this client and this
// server; it gets an access token for one MCP server, of the same kind an authorization code gives (a JWT, typ
// at+jwt, aud the canonical resource URI, grant_id), and no refresh token: a new one takes a new assertion.
//
// Order of the checks: the grant exists only while a connection accepts assertions (else unsupported_grant_type, as
// the metadata does not list it); a public client is refused (its registration cannot get the grant: defence in
// depth); then the assertion (id-jag-assertion.ts), whose client, resource and scopes; then its single use; then the
// person (id-jag-person.ts). A Grant is saved so the person sees the client in their connected apps and can revoke it.
// Every answer, refusal or token, writes one `token.id_jag` audit row naming what failed.
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { Middleware } from 'koa';
import { requestOrigin } from '../../audit/writer.js';
import { IdpKeys } from '../../upstream/idp-jwt.js';
import { canonicalOrSame } from '../resources.js';
import { AssertionRefusal, idJagEnabled, JWT_BEARER_GRANT, spendAssertion, verifyAssertion, type VerifiedAssertion } from './id-jag-assertion.js';
import { personOf } from './id-jag-person.js';
import type { GrantDeps, GrantType } from './index.js';

const words = (v: unknown): string[] => (typeof v === 'string' ? v.split(' ').filter(Boolean) : Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && !!s) : []);

/** The OAuth error of a refusal, with its description. */
function oauthError(r: AssertionRefusal): Error {
  switch (r.error) {
    case 'invalid_request':
      return new errors.InvalidRequest(r.reason);
    case 'invalid_scope':
      // No `scope` member in the answer: the description names the scope at fault.
      return new errors.InvalidScope(r.reason, undefined as unknown as string);
    case 'invalid_target':
      return new errors.InvalidTarget(r.reason);
    case 'unauthorized_client':
      return new errors.UnauthorizedClient(r.reason);
    case 'unsupported_grant_type':
      return new errors.UnsupportedGrantType(r.reason);
    default:
      // oidc-provider's InvalidGrant has a fixed description: the custom error keeps the reason.
      return new errors.CustomOIDCProviderError('invalid_grant', r.reason);
  }
}

/** The one resource the token is for: the assertion's, or the connection's default when it names none (Okta). */
function resourceOf(a: VerifiedAssertion, asked: unknown): string {
  const claimed = words(a.payload.resource);
  if (claimed.length > 1) throw new AssertionRefusal('invalid_target', 'the assertion names several resources: a token is for one MCP server');
  const resource = claimed[0] ?? a.connection.idJagResource;
  if (!resource) throw new AssertionRefusal('invalid_target', `the assertion names no resource, and connection ${a.connection.id} has no default MCP server for identity assertions`);
  const requested = words(asked);
  // The request may repeat the resource (RFC 8707), never ask for another one than the IdP asserted.
  if (requested.length > 1 || (requested[0] !== undefined && canonicalOrSame(requested[0]) !== canonicalOrSame(resource))) {
    throw new AssertionRefusal('invalid_target', `the requested resource is not the one the assertion is for (${canonicalOrSame(resource).slice(0, 200)})`);
  }
  return resource;
}

/**
 * The scopes of the token: those requested, each of which the assertion must carry and the server offer; without a
 * `scope` parameter, those of the assertion the server offers.
 */
function scopesOf(asserted: string[], requested: string[], offered: string[], resource: string): string[] {
  const inAssertion = new Set(asserted);
  const onServer = new Set(offered);
  if (requested.length) {
    const outside = requested.filter((s) => !inAssertion.has(s));
    if (outside.length) throw new AssertionRefusal('invalid_scope', `scope ${outside.join(' ').slice(0, 200)} is outside the assertion`);
    const unknown = requested.filter((s) => !onServer.has(s));
    if (unknown.length) throw new AssertionRefusal('invalid_scope', `scope ${unknown.join(' ').slice(0, 200)} is not offered by ${resource}`);
    return [...new Set(requested)];
  }
  const scopes = asserted.filter((s) => onServer.has(s));
  if (asserted.length && !scopes.length) throw new AssertionRefusal('invalid_scope', `no scope of the assertion is offered by ${resource}`);
  return [...new Set(scopes)];
}

function handler(deps: GrantDeps): Middleware {
  const idpKeys = new IdpKeys(deps.connections);

  return async (koaCtx) => {
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    const client = ctx.oidc.client!;
    const params = ctx.oidc.params as Record<string, unknown>;
    const meta = { clientId: client.clientId, ...requestOrigin(ctx) };
    let details: Record<string, unknown> = {};
    try {
      if (!(await idJagEnabled(deps.connections))) throw new AssertionRefusal('unsupported_grant_type', 'no identity provider is trusted for identity assertions (ID-JAG) here');
      if (client.tokenEndpointAuthMethod === 'none') throw new AssertionRefusal('unauthorized_client', 'identity assertions are for confidential clients only');
      const token = params.assertion;
      if (typeof token !== 'string' || !token) throw new AssertionRefusal('invalid_request', 'missing assertion (the ID-JAG)');
      if (token.length > 16_384) throw new AssertionRefusal('invalid_grant', 'the assertion is too long');

      const a = await verifyAssertion(token, { connections: deps.connections, keys: idpKeys, issuer: deps.config.ISSUER });
      details = { connection: a.connection.id, issuer: a.payload.iss.slice(0, 200), jti: a.payload.jti.slice(0, 100) };
      // The IdP issued it to one client: another client presenting it is a stolen or confused assertion.
      if (a.payload.client_id !== client.clientId) {
        throw new AssertionRefusal('invalid_grant', `the assertion was issued to client ${String(a.payload.client_id).slice(0, 200)}, not to the authenticated client`);
      }

      const resource = resourceOf(a, params.resource);
      let info: ResourceServer;
      try {
        // The resource rules of every other token: registered servers only, the dynamic clients' caps, the admin API
        // kept apart, the same signing key and lifetime.
        info = await deps.resourceServerInfo(ctx, resource, client);
      } catch (err) {
        if (err instanceof errors.InvalidTarget) throw new AssertionRefusal('invalid_target', String(err.error_description));
        throw err;
      }
      const audience = info.audience!;
      details.resource = audience;
      const scopes = scopesOf(words(a.payload.scope), words(params.scope), words(info.scope), audience);

      // Last of the assertion's checks, first of the effects: a replay is refused on every instance.
      if (!(await spendAssertion(deps.db, a.payload.iss, a.payload.jti, a.payload.exp))) {
        throw new AssertionRefusal('invalid_grant', `the assertion was already used (jti ${a.payload.jti.slice(0, 100)})`);
      }
      const account = await personOf(deps, a, audience, scopes);
      details.accountId = account.id;

      const provider = ctx.oidc.provider;
      const ttl = info.accessTokenTTL ?? deps.config.ACCESS_TOKEN_TTL;
      // The grant lives as long as its token: nothing can be redeemed under it later (no refresh token).
      const grant = new provider.Grant({ accountId: account.id, clientId: client.clientId, expiresIn: ttl } as never);
      grant.addResourceScope(audience, scopes.join(' '));
      const grantId = await grant.save();
      const at = new provider.AccessToken({ accountId: account.id, client, grantId, gty: JWT_BEARER_GRANT, scope: scopes.join(' ') || undefined } as never);
      const Server = (provider as unknown as { ResourceServer: new (id: string, info: ResourceServer) => NonNullable<typeof at.resourceServer> }).ResourceServer;
      at.resourceServer = new Server(audience, info);
      ctx.oidc.entity('AccessToken', at);
      const accessToken = await at.save();

      await deps.audit.record({ type: 'token.id_jag', outcome: 'success', actor: account.email ?? account.id, resource: audience, details: { ...details, grantId, scope: scopes.join(' ') }, ...meta });
      ctx.body = { access_token: accessToken, token_type: at.tokenType ?? 'Bearer', expires_in: at.expiration, ...(scopes.length ? { scope: scopes.join(' ') } : {}) };
    } catch (err) {
      if (!(err instanceof AssertionRefusal)) throw err;
      await deps.audit.record({ type: 'token.id_jag', outcome: 'failure', reason: err.reason.slice(0, 500), details: { ...details, ...err.details, error: err.error }, ...meta });
      throw oauthError(err);
    }
  };
}

export const identityAssertionGrant: GrantType = {
  name: JWT_BEARER_GRANT,
  params: ['assertion', 'scope', 'resource'],
  handler,
};
