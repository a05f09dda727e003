// Redeeming a code or a refresh token makes oidc-provider read four rows one after the other: the token, the session
// it is bound to, its grant, and the account. Each is a round trip to PostgreSQL, and round trips (syscalls and
// wake-ups on both sides) were most of a refresh's cost. `readTokenAhead` reads all four in one statement; the three
// rows the request has not asked for yet are kept for that same request only, and each is handed out once.
//
// Why this reads nothing stale: the kept rows come from the same snapshot as the token itself, a few milliseconds
// before oidc-provider would have read them in the same request; they are keyed by that request's context object
// (oidc-provider's own AsyncLocalStorage, `Provider.ctx`), so no other request ever sees them, and a second lookup in
// the request goes to the database. Only /token reads ahead (revocation and introspection find tokens too, but need
// none of the rest); outside a provider request (interaction routes, the CLI) nothing is kept.
import Provider from 'oidc-provider';
import type { Db } from '../db/connection.js';
import type { AccountRow } from '../upstream/accounts.js';
import type { IdentityRow } from '../upstream/revalidation.js';

/** A stored oidc_payloads row as the adapter decodes it. */
export interface PayloadRow {
  payload: string;
  consumed_at: Date | string | null;
  expires_at: Date | string | null;
}

type Kept = PayloadRow | AccountRow | IdentityRow[];

// Kept rows per request; `null` records "absent in that snapshot", which saves the lookup just as well.
const kept = new WeakMap<object, Map<string, Kept | null>>();

function requestMemo(create: boolean): Map<string, Kept | null> | undefined {
  const ctx = Provider.ctx as object | undefined;
  if (!ctx) return undefined;
  let memo = kept.get(ctx);
  if (!memo && create) kept.set(ctx, (memo = new Map()));
  return memo;
}

function keep(key: string, row: Kept | null): void {
  requestMemo(true)?.set(key, row);
}

/** Whether this is a /token request: the only one that redeems codes and refresh tokens, so the only one to read ahead for. */
export function redeeming(): boolean {
  return (Provider.ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route === 'token';
}

/** A row kept for this request under `key` (then forgotten), `null` if it was absent, `undefined` if none is kept. */
export function takeAhead<T extends Kept>(key: string): T | null | undefined {
  const memo = requestMemo(false);
  if (!memo?.has(key)) return undefined;
  const row = memo.get(key) as T | null;
  memo.delete(key);
  return row;
}

export const grantKey = (id: string) => `Grant:${id}`;
export const sessionKey = (uidDigest: string) => `Session:uid:${uidDigest}`;
export const accountKey = (id: string) => `Account:${id}`;
export const identitiesKey = (accountId: string) => `Identities:${accountId}`;

// The session row is found by the digest of the token's sessionUid, computed in SQL the way crypto/digest.ts does it
// (SHA-256, base64url without padding). Both payloads are plain JSON: tokens and codes are hashed, never sealed.
const SESSION_DIGEST = `translate(encode(sha256(convert_to(t.payload::jsonb ->> 'sessionUid', 'UTF8')), 'base64'), '+/=', '-_')`;
// A token without a sessionUid gives a null digest: no session is joined and none is kept.
const READ_AHEAD_SQL = `
  select t.payload, t.consumed_at, t.expires_at, t.grant_id,
         g.payload as g_payload, g.consumed_at as g_consumed_at, g.expires_at as g_expires_at,
         ${SESSION_DIGEST} as s_key, s.payload as s_payload, s.consumed_at as s_consumed_at, s.expires_at as s_expires_at,
         t.payload::jsonb ->> 'accountId' as a_id, to_jsonb(a) as a_row,
         (select coalesce(jsonb_agg(to_jsonb(i)), '[]'::jsonb) from identities i where i.account_id = a.id) as i_rows
    from oidc_payloads t
    left join oidc_payloads g on g.model = 'Grant' and g.id = t.grant_id
    left join oidc_payloads s on s.model = 'Session' and s.uid = ${SESSION_DIGEST}
    left join accounts a on a.id = t.payload::jsonb ->> 'accountId'
   where t.model = ? and t.id = ?
   limit 1`;

interface JoinedRow extends PayloadRow {
  grant_id: string | null;
  g_payload: string | null;
  g_consumed_at: Date | string | null;
  g_expires_at: Date | string | null;
  s_key: string | null;
  s_payload: string | null;
  s_consumed_at: Date | string | null;
  s_expires_at: Date | string | null;
  a_id: string | null;
  a_row: AccountRow | string | null;
  i_rows: IdentityRow[] | string | null;
}

/** Reads a code or refresh token (by its stored key) and keeps its grant, session and account for this request. */
export async function readTokenAhead(db: Db, model: string, key: string): Promise<PayloadRow | undefined> {
  const result = (await db.raw(READ_AHEAD_SQL, [model, key])) as { rows: JoinedRow[] };
  const row = result.rows[0];
  if (!row) return undefined;
  if (row.grant_id) keep(grantKey(row.grant_id), row.g_payload === null ? null : { payload: row.g_payload, consumed_at: row.g_consumed_at, expires_at: row.g_expires_at });
  if (row.s_key) keep(sessionKey(row.s_key), row.s_payload === null ? null : { payload: row.s_payload, consumed_at: row.s_consumed_at, expires_at: row.s_expires_at });
  if (row.a_id) keep(accountKey(row.a_id), typeof row.a_row === 'string' ? (JSON.parse(row.a_row) as AccountRow) : row.a_row);
  // The account's identities, for re-validation at refresh (upstream/revalidation.ts): decided without a read of its own.
  if (row.a_id && row.a_row !== null) keep(identitiesKey(row.a_id), typeof row.i_rows === 'string' ? (JSON.parse(row.i_rows) as IdentityRow[]) : (row.i_rows ?? []));
  return { payload: row.payload, consumed_at: row.consumed_at, expires_at: row.expires_at };
}
