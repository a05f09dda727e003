// RFC 7662 §4: introspection reveals token metadata, so only the token's own client, or the resource server the
// token was issued for (a confidential client an admin linked to that resource with `client add --resource`),
// may introspect it. oidc-provider's default would let any confidential client introspect any token
// (DESIGN.md §10.6).
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { canonicalOrSame } from '../../resources.js';

interface IntrospectedToken {
  clientId?: string;
  resource?: string | string[];
  aud?: string | string[];
}

export async function introspectionAllowed(_ctx: KoaContextWithOIDC, client: Client, token: IntrospectedToken): Promise<boolean> {
  if (token.clientId && token.clientId === client.clientId) return true;
  const linked = (client as unknown as { gatehouse_resource?: string }).gatehouse_resource;
  if (!linked || client.clientAuthMethod === 'none') return false;
  const targets = [token.resource, token.aud].flat().filter((v): v is string => typeof v === 'string');
  return targets.some((t) => canonicalOrSame(t) === canonicalOrSame(linked));
}
