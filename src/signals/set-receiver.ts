// POST /ssf/events/<connection> (docs/UNIVERSAL-LOGOUT.md, "Shared Signals"): a Security Event Token (RFC 8417)
// pushed by the connection's identity provider (RFC 8935). One receiver URL per connection: the URL says whose keys
// and issuer the SET must carry, and is the audience the transmitter is configured with, so a SET meant for one
// connection cannot be replayed to another. The SET is verified with the connection's keys (idp-jwt.ts: `typ`
// secevent+jwt, its issuer, `aud` this URL or Gatehouse's issuer, `iat` within seven days); then one event:
//   CAEP session-revoked  → the person's every grant and session ended
//   RISC account-disabled → the same, and the account marked deprovisioned (until the IdP vouches at a new login)
//   SSF verification      → acknowledged; anything else → acknowledged, ignored
// The person is looked up among this connection's people only (subject.ts); one nobody knows is acknowledged (the
// SET is a signal about the IdP's user, not an error of the transmitter). A `jti` seen before is acknowledged
// without acting; a SET is remembered once acted on, so a delivery that failed midway is acted on when retried.
// Answers: 202 Accepted, or RFC 8935's 400 with `err` (refusal.ts). Every SET is one `security_event.received`
// audit row; the SET itself is never stored.
import type { Middleware } from 'koa';
import type { JWTPayload } from 'jose';
import { requestOrigin } from '../audit/writer.js';
import { routeOf } from '../http/route-resolution.js';
import { SSF_EVENTS_PATH } from '../http/route-table.js';
import type { StoredConnection } from '../upstream/connections.js';
import { readSecurityEventToken } from './body.js';
import { normalisedTyp } from './caller.js';
import { connectionActor, type SignalsDeps } from './deps.js';
import { readUnverified } from './idp-jwt.js';
import { logOut, type LoggedOut } from './person-logout.js';
import { markAuthenticated } from './rate-limit.js';
import { answerSetRefusal, badRequest, SignalRefusal } from './refusal.js';
import { firstSight, seenBefore } from './seen-events.js';
import { accountsOf, describeSubject, subjectOfSet, type Subject } from './subject.js';

export const CAEP_SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
export const RISC_ACCOUNT_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';
export const SSF_VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';

const ACTS = new Set([CAEP_SESSION_REVOKED, RISC_ACCOUNT_DISABLED]);
const SHORT: Record<string, string> = { [CAEP_SESSION_REVOKED]: 'caep.session-revoked', [RISC_ACCOUNT_DISABLED]: 'risc.account-disabled', [SSF_VERIFICATION]: 'ssf.verification' };

export const SET_BODY_LIMIT = 64 * 1024;
/** SETs carry no expiry; one issued longer ago than this is refused (and its id is remembered longer: seen-events.ts). */
export const SET_MAX_AGE_S = 7 * 24 * 3600;

/** The receiver URL of a connection, the audience its transmitter is configured with. */
export const receiverUrl = (issuer: string, connectionId: string) => `${issuer}${SSF_EVENTS_PATH}/${connectionId}`;

/** The one event of a SET (SSF: exactly one per SET): its type URI and payload. */
function eventOf(payload: JWTPayload): { type: string; body: Record<string, unknown> } {
  const events = payload.events;
  if (!events || typeof events !== 'object' || Array.isArray(events)) throw badRequest('the SET has no events object');
  const entries = Object.entries(events as Record<string, unknown>);
  if (entries.length !== 1) throw badRequest(`the SET must carry exactly one event (it carries ${entries.length})`);
  const [type, body] = entries[0]!;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the event payload of ${type.slice(0, 200)} must be an object`);
  return { type, body: body as Record<string, unknown> };
}

const reasonOf = (body: Record<string, unknown>) => (typeof body.reason === 'string' ? body.reason.slice(0, 100) : undefined);

export function securityEventRoute(deps: SignalsDeps): Middleware {
  return async (ctx) => {
    const asked = routeOf(ctx)?.params.connectionId ?? '';
    let connection: StoredConnection | undefined;
    let jti: string | undefined;
    let eventType: string | undefined;
    let subject: Subject | undefined;
    const record = (outcome: 'success' | 'failure', details: Record<string, unknown>, reason?: string) =>
      deps.audit.record({
        type: 'security_event.received',
        outcome,
        actor: connection ? connectionActor(connection.id) : undefined,
        ...(reason ? { reason } : {}),
        details: {
          connection: connection?.id ?? asked.slice(0, 60),
          ...(eventType ? { event: SHORT[eventType] ?? eventType } : {}),
          ...(jti ? { jti } : {}),
          ...(subject ? { subject: describeSubject(subject) } : {}),
          ...details,
        },
        ...requestOrigin(ctx),
      });
    try {
      connection = asked.length <= 200 ? await deps.connections.find(asked) : undefined;
      if (!connection) throw new SignalRefusal('unknown_receiver', `no connection ${asked.slice(0, 60)} receives security events here`);
      const token = await readSecurityEventToken(ctx, SET_BODY_LIMIT);
      if (!readUnverified(token)) throw badRequest('the body is not a signed JWT (compact JWS)');
      const payload = await deps.idpKeys.verify(token, connection, {
        audiences: [receiverUrl(deps.config.ISSUER, connection.id), deps.config.ISSUER],
        typ: (typ) => normalisedTyp(typ) === 'secevent+jwt',
        required: ['iss', 'aud', 'iat', 'jti', 'events'],
        maxAgeSeconds: SET_MAX_AGE_S,
      });
      markAuthenticated(ctx);
      jti = payload.jti!;
      const event = eventOf(payload);
      eventType = event.type;
      if (ACTS.has(event.type)) subject = subjectOfSet(payload.sub_id, event.body.subject);

      if (await seenBefore(deps.db, connection.id, 'set', jti)) {
        await record('success', { action: 'replayed' });
      } else {
        let action: string;
        let ended: LoggedOut | undefined;
        if (subject) {
          const accountIds = await accountsOf(deps.accounts, connection.id, subject);
          ended = await logOut(deps.personRevocation, accountIds);
          if (event.type === RISC_ACCOUNT_DISABLED) {
            const why = reasonOf(event.body);
            for (const id of accountIds) await deps.accounts.markDeprovisioned(id, `RISC account-disabled from connection ${connection.id}${why ? ` (${why})` : ''}`);
          }
          action = !accountIds.length ? 'no_match' : event.type === RISC_ACCOUNT_DISABLED ? 'deprovisioned' : 'revoked';
        } else {
          action = event.type === SSF_VERIFICATION ? 'verified' : 'ignored';
        }
        await firstSight(deps.db, connection.id, 'set', jti);
        await record('success', { action, ...(ended ?? {}) });
      }
      ctx.status = 202;
      ctx.body = ''; // RFC 8935 §2.2: an acknowledgement carries nothing
      ctx.set('Cache-Control', 'no-store');
    } catch (err) {
      if (!(err instanceof SignalRefusal)) throw err;
      const { status, error } = answerSetRefusal(ctx, err);
      await record('failure', { status, error }, err.reason);
    }
  };
}
