// Console sign-in: the console is a first-party client of Gatehouse's own /authorize (console/console-client.ts),
// so admins meet the same login as everyone. The flow is bound to the browser that started it: /console/login
// sets a signed, HttpOnly cookie holding a random nonce and the time the sign-in started; the nonce is the `state`
// and, HMAC'd with SECRET_KEY, the PKCE verifier. /console/callback accepts a code only with that cookie, and only
// a code of the console client (another client's code is left untouched for its owner: issue 16, 11a), redeems it
// in process (no token is ever issued to the console), and opens a console session.
//
// Every console sign-in is a fresh authentication (issue 16, item 2; docs/SECURITY.md "Issue 16: console
// administration"): `prompt=login` and `max_age=0` ask for it, at the IdP too, but a URL parameter is only a
// request the browser can strip, so the callback itself requires the code's auth_time to be no earlier than the
// start the signed cookie recorded. Reusing an open Gatehouse session, however the URL was edited, is refused.
import { consoleRouter } from './router.js';
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import { issuerBase } from '../http/issuer-path.js';
import type { Views } from '../views/views.js';
import { ROUTES } from '../http/route-table.js';
import { freshLoginAcr } from '../oauth/first-party-clients.js';
import type { Accounts } from '../upstream/accounts.js';
import { CONSOLE_CALLBACK_PATH, CONSOLE_CLIENT_ID, consolePath, consoleRedirectUri } from './console-client.js';
import type { Administrators } from './admins.js';
import { CONSOLE_COOKIE, MAX_AGE_MS, type ConsoleSessions } from './sessions.js';

const LOGIN_COOKIE = 'gatehouse.console.login';
const LOGIN_TTL_MS = 30 * 60 * 1000; // the interaction's own lifetime

export interface SignInDeps {
  config: Config;
  provider: () => Provider;
  accounts: Accounts;
  admins: Administrators;
  sessions: ConsoleSessions;
  audit: AuditLog;
  views: Views;
  secretKey: string;
}

export function signInRoutes(deps: SignInDeps): Router {
  const router = consoleRouter();
  const base = issuerBase(deps.config.ISSUER);
  const secure = deps.config.ISSUER.startsWith('https:');
  const verifierKey = Buffer.from(hkdfSync('sha256', deps.secretKey, Buffer.alloc(0), 'gatehouse console pkce v1', 32));
  const verifierFor = (nonce: string) => createHmac('sha256', verifierKey).update(nonce).digest('base64url');
  const challengeFor = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

  const page = (ctx: Context, status: number, view: string, data: Record<string, unknown>) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.views.page(ctx, view, data);
  };
  const refuse = (ctx: Context, status: number, title: string, description: string) =>
    page(ctx, status, 'error', { title, error: status === 403 ? 'access_denied' : 'invalid_request', description });

  router.get('/console/login', (ctx) => {
    const nonce = randomBytes(32).toString('base64url');
    // Whole seconds, as auth_time counts them; rounded down so a login finished within this second still counts.
    const startedAt = Math.floor(Date.now() / 1000);
    ctx.cookies.set(LOGIN_COOKIE, `${nonce}.${startedAt}`, {
      path: `${base}${CONSOLE_CALLBACK_PATH}`,
      httpOnly: true,
      // Lax, not Strict: the way back from an IdP on another site is a cross-site redirect chain.
      sameSite: 'lax',
      secure,
      signed: true,
      maxAge: LOGIN_TTL_MS,
      overwrite: true,
    });
    const url = new URL(`${deps.config.ISSUER}${ROUTES.authorization}`);
    url.search = new URLSearchParams({
      client_id: CONSOLE_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: consoleRedirectUri(deps.config.ISSUER),
      state: nonce,
      code_challenge: challengeFor(verifierFor(nonce)),
      code_challenge_method: 'S256',
      prompt: 'login',
      max_age: '0',
    }).toString();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get(CONSOLE_CALLBACK_PATH, async (ctx) => {
    const q = ctx.query;
    const one = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const state = one(q.state);
    const code = one(q.code);
    const [nonce, started] = (ctx.cookies.get(LOGIN_COOKIE, { signed: true }) ?? '').split('.');
    const startedAt = Number(started);
    ctx.cookies.set(LOGIN_COOKIE, null, { path: `${base}${CONSOLE_CALLBACK_PATH}`, httpOnly: true, sameSite: 'lax', secure, signed: true, overwrite: true });
    const origin = requestOrigin(ctx);
    const fail = async (reason: string, title: string, description: string, status = 400) => {
      await deps.audit.record({ type: 'console.login', outcome: 'failure', reason, ...origin });
      return refuse(ctx, status, title, description);
    };

    // A code of the console's is taken off the table first, whatever follows: it is used once or never. Any other
    // client's code is not the console's to spend: it is left as it was, for its client to redeem (or not).
    const stored = code ? await deps.provider().AuthorizationCode.find(code).catch(() => undefined) : undefined;
    const found = stored?.clientId === CONSOLE_CLIENT_ID ? stored : undefined;
    let consumed = false;
    if (found) {
      try {
        await found.consume();
        consumed = true;
      } catch {
        consumed = false;
      }
    }
    if (found?.grantId) {
      const grant = await deps.provider().Grant.find(found.grantId).catch(() => undefined);
      if (grant?.clientId === CONSOLE_CLIENT_ID) await grant.destroy();
    }

    if (!nonce || !state || !sameText(nonce, state)) {
      return fail('state does not match this browser', 'Sign-in could not be completed', 'This sign-in was not started in this browser, or it took too long. Start again from the console.');
    }
    if (one(q.error)) {
      return fail(`sign-in ended: ${one(q.error)}`, 'Sign-in was not completed', 'The sign-in was cancelled or refused. Start again from the console.', 403);
    }
    if (one(q.iss) !== deps.config.ISSUER) return fail('iss does not match the issuer', 'Sign-in could not be completed', 'The response did not come from this server.');
    if (stored && !found) return fail('authorization code of another client', 'Sign-in could not be completed', 'This sign-in link is not valid. Start again from the console.');
    if (!found || !consumed || found.redirectUri !== consoleRedirectUri(deps.config.ISSUER)) {
      return fail('authorization code unknown, used or not the console\'s', 'Sign-in could not be completed', 'This sign-in link is not valid. Start again from the console.');
    }
    if (found.codeChallengeMethod !== 'S256' || !found.codeChallenge || !sameText(found.codeChallenge, challengeFor(verifierFor(nonce)))) {
      return fail('PKCE verifier does not match', 'Sign-in could not be completed', 'This sign-in was not started in this browser. Start again from the console.');
    }
    // The authentication must have happened after this sign-in started: an older session's login is not fresh.
    // And it must have happened inside this very request: a login for anything else in this browser (an MCP client's
    // sign-in after a planted console login cookie) carries another acr (oauth/first-party-clients.ts).
    if (!Number.isSafeInteger(startedAt) || typeof found.authTime !== 'number' || found.authTime < startedAt || found.acr !== freshLoginAcr(nonce)) {
      return fail('not a fresh authentication (auth_time before the sign-in started)', 'Sign in again', 'The console needs you to enter your credentials for this sign-in. Start again from the console.', 401);
    }
    const account = found.accountId ? await deps.accounts.findById(found.accountId) : undefined;
    if (!account || account.disabled) return fail('account unknown or disabled', 'Access not allowed', 'Your account may not sign in.', 403);
    const admin = await deps.admins.isAdmin(account);

    const session = await deps.sessions.create(account.id);
    ctx.cookies.set(CONSOLE_COOKIE, session.id, {
      path: consolePath(deps.config.ISSUER),
      httpOnly: true,
      // Strict: no request from another site ever carries the console session.
      sameSite: 'strict',
      secure,
      maxAge: MAX_AGE_MS,
      overwrite: true,
    });
    await deps.audit.record({
      type: 'console.login',
      outcome: admin ? 'success' : 'failure',
      actor: account.email ?? account.id,
      ...(admin ? {} : { reason: 'not an administrator' }),
      details: { accountId: account.id },
      ...origin,
    });
    // A page, not a redirect: after a cross-site IdP redirect chain the browser would withhold the new Strict
    // cookie from a redirected request; a navigation this page starts itself is same-site.
    page(ctx, 200, 'console/continue', { title: 'Signed in', next: `${base}/console` });
  });

  return router;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
