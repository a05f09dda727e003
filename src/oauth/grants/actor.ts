// RFC 8693 §4.1 `act`: a token obtained by token exchange names the MCP server acting for the person
// (docs/DELEGATION.md). Kept beside the token object until oidc-provider asks for its extra claims (provider.ts).
const actors = new WeakMap<object, { sub: string }>();

export function setActor(token: object, actor: { sub: string }): void {
  actors.set(token, actor);
}

export function actorOf(token: object): { sub: string } | undefined {
  return actors.get(token);
}
