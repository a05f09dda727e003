// Signing in to the person's own pages (docs/TOOL-APPROVALS.md, "The approval page"). The flow is the console's
// (console/sign-in.ts) bound to the browser that started it: a signed, HttpOnly cookie holds a random nonce — the
// `state`, and HMAC'd with SECRET_KEY the PKCE verifier — and where to return; the callback accepts only a code of the
// account client, redeems it in process and opens an account session. Unlike the console it does not insist on a
// fresh login: the person has usually just signed in for the MCP client, and an approval is theirs to give.
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';

import type Provider from 'oidc-provider';
import { requestOrigin, type AuditLog } from '../audit/writer.js';
import type { Config } from '../config.js';
import { issuerBase } from '../http/issuer-path.js';
import { ROUTES } from '../http/route-table.js';
import type { ConsoleSessions } from '../console/sessions.js';
import { MAX_AGE_MS } from '../console/sessions.js';
import type { Accounts } from '../upstream/accounts.js';
import type { Views } from '../views/views.js';
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID, ACCOUNT_COOKIE, accountPath, accountRedirectUri, safeNext } from './account-client.js';

const LOGIN_COOKIE = 'gatehouse.account.login';
const LOGIN_TTL_MS = 30 * 60 * 1000;

export interface AccountSignInDeps {
  config: Config;
  provider: () => Provider;
  accounts: Accounts;
  sessions: ConsoleSessions;
  audit: AuditLog;
  views: Views;
  secretKey: string;
}

export function accountSignIn(deps: AccountSignInDeps): Router {
  const router = new Router({ sensitive: true });
  const base = issuerBase(deps.config.ISSUER);
  const secure = deps.config.ISSUER.startsWith('https:');
  const verifierKey = Buffer.from(hkdfSync('sha256', deps.secretKey, Buffer.alloc(0), 'gatehouse account pkce v1', 32));
  const verifierFor = (nonce: string) => createHmac('sha256', verifierKey).update(nonce).digest('base64url');
  const challengeFor = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');
  const cookiePath = `${base}${ACCOUNT_CALLBACK_PATH}`;

  router.get('/account/login', async (ctx) => {
    // "Sign in as someone else": the Gatehouse sign-in open in this browser (another person's) ends first — a login
    // as a second account on top of it is a session switch oidc-provider would only finish through logout, which
    // Gatehouse does not serve.
    if (ctx.query.switch === '1') {
      const open = await deps.provider().Session.get(ctx).catch(() => undefined);
      if (open?.accountId) await open.destroy();
    }
    const nonce = randomBytes(32).toString('base64url');
    const next = safeNext(ctx.query.next);
    ctx.cookies.set(LOGIN_COOKIE, `${nonce}.${next}`, { path: cookiePath, httpOnly: true, sameSite: 'lax', secure, signed: true, maxAge: LOGIN_TTL_MS, overwrite: true });
    const url = new URL(`${deps.config.ISSUER}${ROUTES.authorization}`);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: accountRedirectUri(deps.config.ISSUER),
      state: nonce,
      code_challenge: challengeFor(verifierFor(nonce)),
      code_challenge_method: 'S256',
      // "Sign in as someone else" (the approval page of another person's call): the open session must not answer.
      ...(ctx.query.switch === '1' ? { prompt: 'login' } : {}),
    }).toString();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(url.href);
  });

  router.get(ACCOUNT_CALLBACK_PATH, async (ctx) => {
    const one = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const state = one(ctx.query.state);
    const code = one(ctx.query.code);
    const cookie = ctx.cookies.get(LOGIN_COOKIE, { signed: true }) ?? '';
    const dot = cookie.indexOf('.');
    const nonce = dot > 0 ? cookie.slice(0, dot) : '';
    const next = safeNext(cookie.slice(dot + 1));
    ctx.cookies.set(LOGIN_COOKIE, null, { path: cookiePath, httpOnly: true, sameSite: 'lax', secure, signed: true, overwrite: true });
    const fail = async (reason: string, description: string, status = 400) => {
      await deps.audit.record({ type: 'account.login', outcome: 'failure', reason, ...requestOrigin(ctx) });
      ctx.status = status;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = deps.views.errorPage(ctx, { title: 'Sign-in could not be completed', error: status === 403 ? 'access_denied' : 'invalid_request', description });
    };

    // A code of this client is spent whatever follows; another client's code is left for its owner.
    const stored = code ? await deps.provider().AuthorizationCode.find(code).catch(() => undefined) : undefined;
    const found = stored?.clientId === ACCOUNT_CLIENT_ID ? stored : undefined;
    const consumed = found ? await found.consume().then(() => true, () => false) : false;
    if (found?.grantId) {
      const grant = await deps.provider().Grant.find(found.grantId).catch(() => undefined);
      if (grant?.clientId === ACCOUNT_CLIENT_ID) await grant.destroy();
    }
    if (!nonce || !state || !sameText(nonce, state)) return fail('state does not match this browser', 'This sign-in was not started in this browser, or it took too long. Open the link again.');
    if (one(ctx.query.error)) return fail(`sign-in ended: ${one(ctx.query.error)}`, 'The sign-in was cancelled or refused.', 403);
    if (one(ctx.query.iss) !== deps.config.ISSUER) return fail('iss does not match the issuer', 'The response did not come from this server.');
    if (!found || !consumed || found.redirectUri !== accountRedirectUri(deps.config.ISSUER)) return fail('authorization code unknown, used or not the account client\'s', 'This sign-in link is not valid. Open the link again.');
    if (found.codeChallengeMethod !== 'S256' || !found.codeChallenge || !sameText(found.codeChallenge, challengeFor(verifierFor(nonce)))) {
      return fail('PKCE verifier does not match', 'This sign-in was not started in this browser. Open the link again.');
    }
    const account = found.accountId ? await deps.accounts.findById(found.accountId) : undefined;
    if (!account || account.disabled) return fail('account unknown or disabled', 'Your account may not sign in.', 403);
    const session = await deps.sessions.create(account.id);
    ctx.cookies.set(ACCOUNT_COOKIE, session.id, { path: accountPath(deps.config.ISSUER), httpOnly: true, sameSite: 'lax', secure, maxAge: MAX_AGE_MS, overwrite: true });
    await deps.audit.record({ type: 'account.login', outcome: 'success', actor: account.email ?? account.id, details: { accountId: account.id }, ...requestOrigin(ctx) });
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(`${base}${next}`);
  });

  return router;
}

export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

