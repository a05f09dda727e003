// Registration policy caps (issue #3): dynamically registered clients may only get tokens for the resources in
// DCR_ALLOWED_RESOURCES and the scopes in DCR_ALLOWED_SCOPES (each unset = no cap). Admin-created and CIMD
// clients are not capped here: an admin created the first, and CIMD has its own domain policy.
import { clientKind } from '../../client-kind.js';
import { canonicalOrSame } from '../../resources.js';

export interface DynamicClientCaps {
  resources: readonly string[];
  scopes: readonly string[];
}

const isDynamicClient = (clientId: string) => clientKind(clientId) === 'dynamic';

/** Whether a dynamic client may target this resource at all. */
export function resourceAllowed(caps: DynamicClientCaps, clientId: string, resourceUri: string): boolean {
  if (!isDynamicClient(clientId) || caps.resources.length === 0) return true;
  return caps.resources.map(canonicalOrSame).includes(canonicalOrSame(resourceUri));
}

/** The resource scopes a client may be granted, after the cap. */
export function cappedScopes(caps: DynamicClientCaps, clientId: string, scopes: string[]): string[] {
  if (!isDynamicClient(clientId) || caps.scopes.length === 0) return scopes;
  return scopes.filter((s) => caps.scopes.includes(s));
}
