// The JWT ids an identity provider has already used, per connection (this module owns `security_events_seen`): a
// global token revocation JWT is single-use (one insert decides, so two instances given the same JWT at the same
// moment cannot both accept it), and a Security Event Token delivered again is acknowledged without acting
// (docs/UNIVERSAL-LOGOUT.md, "Idempotency"). The two kinds keep their ids apart by a prefix: neither spends the other's.
import type { Db } from '../db/connection.js';

export type SeenKind = 'gtr' | 'set';

/** How long an id is remembered: longer than any JWT these endpoints accept may live (seven days for a SET). */
export const SEEN_EVENTS_KEPT_MS = 8 * 24 * 3600_000;

/** True the first time this connection presents this id; false for a replay. */
export async function firstSight(db: Db, connectionId: string, kind: SeenKind, jti: string): Promise<boolean> {
  // `on conflict do nothing` rather than a caught error: an error would abort an enclosing transaction on PostgreSQL.
  const taken = (await db('security_events_seen')
    .insert({ connection_id: connectionId, jti: `${kind}:${jti}`, received_at: new Date() })
    .onConflict(['connection_id', 'jti'])
    .ignore()
    .returning('jti')) as unknown[];
  return taken.length > 0;
}

/** Whether this connection presented this id before (a SET is acted on first and remembered after: see set-receiver.ts). */
export async function seenBefore(db: Db, connectionId: string, kind: SeenKind, jti: string): Promise<boolean> {
  return !!(await db('security_events_seen').where({ connection_id: connectionId, jti: `${kind}:${jti}` }).first('jti'));
}

/** Forgets ids older than the keeping time (the cleanup timer, gatehouse.ts). */
export async function forgetSeenEvents(db: Db, now = new Date()): Promise<void> {
  await db('security_events_seen').where('received_at', '<', new Date(now.getTime() - SEEN_EVENTS_KEPT_MS)).delete();
}
