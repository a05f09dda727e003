// Authorization server metadata (RFC 8414) at /.well-known/oauth-authorization-server, and OIDC discovery at
// /.well-known/openid-configuration: the same document, produced by oidc-provider and completed here with what
// MCP clients look for. Served as application/json with CORS.
//
// With an ISSUER path (/tenant1) these paths are seen here relative to it: http/issuer-path.ts maps the RFC 8414
// §3.1 insertion forms (/.well-known/oauth-authorization-server/tenant1, /.well-known/openid-configuration/tenant1)
// and the OIDC Discovery §4 form (/tenant1/.well-known/openid-configuration) onto them, and sets ctx.mountPath, so
// oidc-provider lists `issuer` as ISSUER and every endpoint under /tenant1.
import type { Middleware } from 'koa';
import { OIDC_DISCOVERY_PATH, RFC8414_PATH } from '../http/route-table.js';
import { ID_JAG_PROFILE, JWT_BEARER_GRANT } from './grants/id-jag-assertion.js';
import type { ResourceRegistry } from './resources.js';

export { OIDC_DISCOVERY_PATH, RFC8414_PATH };

/** The discovery route's handler-side rule (src/policy-table.ts): both documents are oidc-provider's one answer. */
export function metadata(options: {
  resources: ResourceRegistry;
  cimd: boolean;
  globalTokenRevocationEndpoint?: string;
  /** Whether a connection accepts identity assertions (grants/id-jag-assertion.ts idJagEnabled); absent: none does. */
  idJag?: () => Promise<boolean>;
}): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    // The RFC 8414 document is oidc-provider's discovery document, served from its discovery route.
    ctx.path = OIDC_DISCOVERY_PATH;
    await next();
    if (ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
    const doc = ctx.body as Record<string, unknown>;
    const resourceScopes = await options.resources.allScopes();
    // registerGrantType lists jwt-bearer always; it is offered only while an IdP is trusted for identity assertions
    // (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md), with the profile the MCP extension looks for.
    const idJag = (await options.idJag?.()) ?? false;
    const grantTypes = Array.isArray(doc.grant_types_supported) ? (doc.grant_types_supported as string[]).filter((g) => idJag || g !== JWT_BEARER_GRANT) : undefined;
    ctx.body = {
      ...doc,
      ...(grantTypes ? { grant_types_supported: grantTypes } : {}),
      ...(idJag ? { authorization_grant_profiles_supported: [ID_JAG_PROFILE] } : {}),
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: options.cimd,
      // draft-parecki-oauth-global-token-revocation §6 (docs/UNIVERSAL-LOGOUT.md); its auth methods key is optional
      // and names registry values neither credential is, so it is left out.
      ...(options.globalTokenRevocationEndpoint ? { global_token_revocation_endpoint: options.globalTokenRevocationEndpoint } : {}),
      scopes_supported: [...new Set([...((doc.scopes_supported as string[]) ?? []), ...resourceScopes])],
    };
    ctx.type = 'application/json';
  };
}
