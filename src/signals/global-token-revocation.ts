// POST /global-token-revocation (docs/UNIVERSAL-LOGOUT.md): an identity provider, or a tool holding a connection's
// global logout secret, ends every grant and session of one person at once — the shape Okta Universal Logout calls
// (draft-parecki-oauth-global-token-revocation). Order: authenticate the caller (401, nothing read further), read
// the body (400/413), find the person among the caller's connection's people (404), end everything (204). Every
// call is one `person.global_logout` audit row, success or failure, naming the connection and never the credential.
// The same call twice is two 204s: the second finds nothing left to end.
import type { Middleware } from 'koa';
import { requestOrigin } from '../audit/writer.js';
import { GLOBAL_TOKEN_REVOCATION_PATH } from '../http/route-table.js';
import { readJsonBody } from './body.js';
import { authenticateCaller, type GlobalLogoutCaller } from './caller.js';
import { connectionActor, type SignalsDeps } from './deps.js';
import { logOut } from './person-logout.js';
import { markAuthenticated } from './rate-limit.js';
import { answerGlobalLogoutRefusal, badRequest, SignalRefusal } from './refusal.js';
import { accountsOf, describeSubject, parseSubject, type Subject } from './subject.js';

export const GLOBAL_LOGOUT_BODY_LIMIT = 16 * 1024;

/**
 * The request's subject: `sub_id` (the draft since -03); `subject`, its earlier name, which Okta's guide still shows,
 * is read alike. Nothing else may be in the body.
 */
export function subjectOfRequest(body: unknown): Subject {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object holding sub_id');
  const members = Object.keys(body);
  const unknown = members.find((k) => k !== 'sub_id' && k !== 'subject');
  if (unknown !== undefined) throw badRequest(`${unknown.slice(0, 60)} is not a member of a global token revocation request (sub_id)`);
  if (members.length > 1) throw badRequest('sub_id and subject are the same member: send one');
  if (!members.length) throw badRequest('sub_id is required');
  const where = members[0]!;
  return parseSubject((body as Record<string, unknown>)[where], where);
}

export function globalTokenRevocationRoute(deps: SignalsDeps): Middleware {
  const endpointUrl = `${deps.config.ISSUER}${GLOBAL_TOKEN_REVOCATION_PATH}`;
  return async (ctx) => {
    let caller: GlobalLogoutCaller | undefined;
    let subject: Subject | undefined;
    try {
      caller = await authenticateCaller(ctx.get('authorization'), deps, endpointUrl);
      markAuthenticated(ctx);
      subject = subjectOfRequest(await readJsonBody(ctx, GLOBAL_LOGOUT_BODY_LIMIT));
      const accountIds = await accountsOf(deps.accounts, caller.connection.id, subject);
      if (!accountIds.length) throw new SignalRefusal('unknown_subject', `no person of connection ${caller.connection.id} matches the subject`);
      const ended = await logOut(deps.personRevocation, accountIds);
      await deps.audit.record({
        type: 'person.global_logout',
        outcome: 'success',
        actor: connectionActor(caller.connection.id),
        details: { connection: caller.connection.id, via: caller.method, ...(caller.jti ? { jti: caller.jti } : {}), subject: describeSubject(subject), ...ended },
        ...requestOrigin(ctx),
      });
      ctx.status = 204;
      ctx.set('Cache-Control', 'no-store');
    } catch (err) {
      if (!(err instanceof SignalRefusal)) throw err;
      const { status, error } = answerGlobalLogoutRefusal(ctx, err);
      await deps.audit.record({
        type: 'person.global_logout',
        outcome: 'failure',
        actor: caller ? connectionActor(caller.connection.id) : undefined,
        reason: err.reason,
        details: {
          status,
          error,
          ...(caller ? { connection: caller.connection.id, via: caller.method } : {}),
          ...(subject ? { subject: describeSubject(subject) } : {}),
        },
        ...requestOrigin(ctx),
      });
    }
  };
}
