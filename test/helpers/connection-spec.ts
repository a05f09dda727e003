// A connection's settings for the connector tests, with every list empty and the stub IdP's client registration; and
// the connector a kind makes of them with the stub's fetch (test/helpers/stub-idp.ts).
import type { RedirectConnector } from '../../src/upstream/connector.js';
import type { ConnectionKind, ConnectionSpec } from '../../src/upstream/connection.js';

export const STUB_REDIRECT = 'http://127.0.0.1:9/upstream/callback';

export function connectionSpec(kind: ConnectionSpec['kind'], over: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return {
    id: kind,
    name: kind,
    kind,
    clientId: 'gatehouse-client',
    clientSecret: 'gatehouse-secret',
    scopes: [],
    allowedTenants: [],
    hostedDomains: [],
    orgs: [],
    storeTokens: false,
    allowPrivateNetwork: false,
    ...over,
  };
}

export function stubConnector(kind: ConnectionKind, spec: ConnectionSpec, fetch: typeof globalThis.fetch): RedirectConnector {
  return kind.create(spec, { redirectUri: STUB_REDIRECT, production: false, local: undefined as never, fetch }) as RedirectConnector;
}
