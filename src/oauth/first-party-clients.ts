// Clients that are Gatehouse itself — today the admin console's sign-in (console/console-client.ts). They are
// defined by the module that owns them and handed to the provider from the top (gatehouse.ts, cli.ts), so the
// protocol core knows their rules without importing the pages (docs/ARCHITECTURE.md "Layers"). A first-party
// client only ever asks who the person is (`openid`): it needs no consent page, and it can never name or receive a
// resource (resource-indicators.ts).
import type { ClientMetadata } from 'oidc-provider';
import { sha256 } from '../crypto/digest.js';

export class FirstPartyClients {
  readonly #ids: ReadonlySet<string>;

  constructor(readonly metadata: readonly ClientMetadata[] = []) {
    this.#ids = new Set(metadata.map((m) => String(m.client_id)));
  }

  has(clientId: string | undefined): boolean {
    return clientId !== undefined && this.#ids.has(clientId);
  }
}

/**
 * The `acr` a login carries when it happened inside a first-party client's own authorization request, bound to that
 * request's `state`. The console's callback requires it (console/sign-in.ts): a code from a session whose last
 * login was for anything else — an MCP client's sign-in in the same browser, or the console's login URL replayed
 * with `prompt=login` removed — has another acr and is not a fresh console sign-in (issue 16's review).
 */
export function freshLoginAcr(state: string): string {
  return `urn:gatehouse:fresh-login:${sha256(state)}`;
}
