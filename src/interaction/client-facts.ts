// What the consent page tells a person about the client: its name, the host that vouches for it (a
// Client ID Metadata Document's URL host) or "unverified" for a dynamically registered one, and where the result
// is sent: the scheme and host, with a warning when that is a loopback address on the person's own machine and
// another when it is plain http (the code travels unencrypted; the redirect rules allow that only on loopback, so
// the host alone — "localhost:53123" — would hide the one fact that makes it different from https).
import { clientKind } from '../oauth/client-kind.js';
import { loopbackWithoutPort } from '../oauth/policies/client-metadata/loopback-redirect.js';

/**
 * Who the client is and who vouches for it: the host of its metadata document, an administrator who created it, or
 * nobody (a dynamically registered client names itself). The consent page and the person's connected-apps page
 * (account/connected-apps.ts) say the same.
 */
export function clientIdentity(client: { clientId: string; clientName?: string | null | undefined }) {
  const kind = clientKind(client.clientId);
  const host = kind === 'cimd' ? URL.parse(client.clientId)?.host : undefined;
  return {
    clientName: client.clientName || host || client.clientId,
    clientKind: kind,
    clientHost: host,
    verified: kind === 'static' || !!host,
  };
}

export function clientFacts(client: { clientId: string; clientName?: string | undefined }, redirectUri: string) {
  const redirect = URL.parse(redirectUri);
  const web = redirect?.protocol === 'http:' || redirect?.protocol === 'https:';
  return {
    ...clientIdentity(client),
    redirectHost: redirect ? (redirect.host || `${redirect.protocol}`) : redirectUri,
    // The scheme always shown with the host: `http://localhost:53123`, `https://claude.ai`, `cursor:`.
    redirectTarget: redirect ? (web || redirect.host ? `${redirect.protocol}//${redirect.host}` : redirect.protocol) : redirectUri,
    redirectScheme: redirect ? redirect.protocol.slice(0, -1) : undefined,
    plainHttp: redirect?.protocol === 'http:',
    loopback: loopbackWithoutPort(redirectUri) !== undefined,
  };
}
