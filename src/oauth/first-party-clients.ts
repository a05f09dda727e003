// Clients that are Gatehouse itself — today the admin console's sign-in (console/console-client.ts). They are
// defined by the module that owns them and handed to the provider from the top (gatehouse.ts, cli.ts), so the
// protocol core knows their rules without importing the pages (docs/ARCHITECTURE.md "Layers"). A first-party
// client only ever asks who the person is (`openid`): it needs no consent page, and it can never name or receive a
// resource (resource-indicators.ts).
import type { ClientMetadata } from 'oidc-provider';

export class FirstPartyClients {
  readonly #ids: ReadonlySet<string>;

  constructor(readonly metadata: readonly ClientMetadata[] = []) {
    this.#ids = new Set(metadata.map((m) => String(m.client_id)));
  }

  has(clientId: string | undefined): boolean {
    return clientId !== undefined && this.#ids.has(clientId);
  }
}
