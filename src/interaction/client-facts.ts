// What the consent page tells a person about the client (DESIGN.md §6): its name, the host that vouches for it (a
// Client ID Metadata Document's URL host) or "unverified" for a dynamically registered one, and where the result
// is sent, with a warning when that is a loopback address on the person's own machine.
import { clientKind } from '../oauth/client-kind.js';
import { loopbackWithoutPort } from '../oauth/policies/loopback-redirect.js';

export function clientFacts(client: { clientId: string; clientName?: string | undefined }, redirectUri: string) {
  const kind = clientKind(client.clientId);
  const redirect = URL.parse(redirectUri);
  return {
    clientName: client.clientName || (kind === 'cimd' ? new URL(client.clientId).host : client.clientId),
    clientKind: kind,
    clientHost: kind === 'cimd' ? new URL(client.clientId).host : undefined,
    redirectHost: redirect ? (redirect.host || `${redirect.protocol}`) : redirectUri,
    loopback: loopbackWithoutPort(redirectUri) !== undefined,
  };
}
