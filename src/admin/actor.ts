// Who performs an administrative action (docs/ARCHITECTURE.md, "The admin service layer"): every action of the
// service layer takes one, and its audit event names it — the same event whichever adapter (console, CLI, admin API)
// carried the action, with `details.via` saying which.
export type ActorKind = 'person' | 'api_client' | 'cli' | 'config';

export interface Actor {
  kind: ActorKind;
  /** The account id, the API client's id, 'cli' or 'config'. */
  id: string;
  /** What the audit row's `actor` shows: the person's email (else id), the client id, 'cli', 'config'. */
  label: string;
  /** The request's address and user agent, when the action came over HTTP. */
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export const CLI_ACTOR: Actor = { kind: 'cli', id: 'cli', label: 'cli' };
export const CONFIG_ACTOR: Actor = { kind: 'config', id: 'config', label: 'config' };

export function personActor(account: { id: string; email: string | null }, origin: { ip?: string | undefined; userAgent?: string | undefined } = {}): Actor {
  return { kind: 'person', id: account.id, label: account.email ?? account.id, ...origin };
}

/** The audit fields an actor contributes. */
export function auditedBy(actor: Actor): { actor: string; ip?: string | undefined; userAgent?: string | undefined; via: ActorKind; actorId: string } {
  return { actor: actor.label, ip: actor.ip, userAgent: actor.userAgent, via: actor.kind, actorId: actor.id };
}
