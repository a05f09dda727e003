// RFC 7662 §4: introspection reveals token metadata, so only the token's own client, or the resource server the
// token was issued for (a confidential client an admin linked to that resource with `client add --resource`),
// may introspect it. oidc-provider's default would let any confidential client introspect any token
// (docs/SECURITY.md, Protocol: "Introspection").
//
// The link is honoured only on a client the client registry records as administrator-created (origin `static`):
// the client-metadata policy already refuses `gatehouse_resource` from a registration, an update or a metadata
// document, but a client stored before that rule, or any future path that lets the property through, must not
// become a resource server by saying so (issue 16; docs/SECURITY.md, "Issue 16: first-admin setup and token
// lifetimes").
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { canonicalOrSame } from '../../resources.js';
import { RESOURCE_PROPERTY } from '../client-metadata/client-admin-properties.js';

interface IntrospectedToken {
  clientId?: string;
  resource?: string | string[];
  aud?: string | string[];
}

export interface IntrospectionDeps {
  /** Whether the registry records this client as created by an administrator (ClientRegistry, origin `static`). */
  adminCreated(clientId: string): Promise<boolean>;
}

export function introspectionAllowed(deps: IntrospectionDeps) {
  return async (_ctx: KoaContextWithOIDC, client: Client, token: IntrospectedToken): Promise<boolean> => {
    if (token.clientId && token.clientId === client.clientId) return true;
    const linked = (client as unknown as Record<string, unknown>)[RESOURCE_PROPERTY];
    if (typeof linked !== 'string' || client.clientAuthMethod === 'none') return false;
    const targets = [token.resource, token.aud].flat().filter((v): v is string => typeof v === 'string');
    if (!targets.some((t) => canonicalOrSame(t) === canonicalOrSame(linked))) return false;
    return deps.adminCreated(client.clientId);
  };
}
