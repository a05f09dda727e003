// What MCP clients declared at `initialize` that the kit needs later: whether a client handles URL elicitation
// (2025-11-25: `capabilities.elicitation.url`), which decides how it is told that a call waits for a person's
// approval (docs/TOOL-APPROVALS.md, "What the client is told", form 2). Keyed by client and subject rather than by
// MCP session: a stateless server has no session, and none is known yet when `initialize` passes.
//
// Bounded, because any token holder can add keys: at most `max` entries, the least recently declared evicted first
// (a Map keeps insertion order; setting a key again moves it to the end).

export const MAX_REMEMBERED_CLIENTS = 10_000;

export class ClientCapabilities {
  readonly #urlElicitation = new Map<string, boolean>();

  constructor(private readonly max = MAX_REMEMBERED_CLIENTS) {}

  static key(clientId: string, sub: string): string {
    return `${clientId}\n${sub}`;
  }

  /** From an `initialize` request's `params.capabilities`: a later initialize without the capability forgets it. */
  declared(key: string, capabilities: unknown): void {
    const elicitation = isObject(capabilities) ? capabilities.elicitation : undefined;
    const url = isObject(elicitation) && isObject(elicitation.url);
    this.#urlElicitation.delete(key);
    this.#urlElicitation.set(key, url);
    if (this.#urlElicitation.size > this.max) this.#urlElicitation.delete(this.#urlElicitation.keys().next().value!);
  }

  /** False for a client never seen (or forgotten): the tool-error form reaches every client. */
  urlElicitation(key: string): boolean {
    return this.#urlElicitation.get(key) === true;
  }

  get size(): number {
    return this.#urlElicitation.size;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
