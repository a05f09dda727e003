// What the consent page tells a person about the client: its name, the host that vouches for it (a
// Client ID Metadata Document's URL host) or "unverified" for a dynamically registered one, and where the result
// is sent: the scheme and host, with a warning when that is a loopback address on the person's own machine and
// another when it is plain http (the code travels unencrypted; the redirect rules allow that only on loopback, so
// the host alone — "localhost:53123" — would hide the one fact that makes it different from https).
import { clientKind } from '../oauth/client-kind.js';
import { loopbackWithoutPort } from '../oauth/policies/client-metadata/loopback-redirect.js';

export function clientFacts(client: { clientId: string; clientName?: string | undefined }, redirectUri: string) {
  const kind = clientKind(client.clientId);
  const redirect = URL.parse(redirectUri);
  const web = redirect?.protocol === 'http:' || redirect?.protocol === 'https:';
  return {
    clientName: client.clientName || (kind === 'cimd' ? new URL(client.clientId).host : client.clientId),
    clientKind: kind,
    clientHost: kind === 'cimd' ? new URL(client.clientId).host : undefined,
    redirectHost: redirect ? (redirect.host || `${redirect.protocol}`) : redirectUri,
    // The scheme always shown with the host: `http://localhost:53123`, `https://claude.ai`, `cursor:`.
    redirectTarget: redirect ? (web || redirect.host ? `${redirect.protocol}//${redirect.host}` : redirect.protocol) : redirectUri,
    redirectScheme: redirect ? redirect.protocol.slice(0, -1) : undefined,
    plainHttp: redirect?.protocol === 'http:',
    loopback: loopbackWithoutPort(redirectUri) !== undefined,
  };
}
