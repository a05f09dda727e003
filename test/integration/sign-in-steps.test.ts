// A client an administrator disables while a person is signing in gets nothing from the steps still to come (found
// by the outside review of issue 15): the approval gate (oauth/policies/request/client-approval.ts) stands on every
// page of the sign-in under way (/interaction/<uid>/…) and on the resume (/authorize/<uid>), where the client is the
// interaction's, not only on /authorize. No consent is remembered, no code is sent, the refusal is audited.
import { authorizeThrough, authorizeUrl, Browser, formAction, pkcePair } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';
import { addStaticClient } from '../../src/oauth/static-clients.js';

const REDIRECT = 'http://127.0.0.1:7005/callback';
const USER = { email: 'sam@example.com', password: 'correct horse battery staple' };
let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(USER);
});
afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

async function newClient(): Promise<string> {
  const s = gh.services;
  return (await addStaticClient({ db: s.handle.db, box: s.box, provider: gh.holder.provider, registry: s.registry }, { name: 'Mid-flight', redirectUris: [REDIRECT], confidential: false })).client_id;
}

async function start(clientId: string) {
  const browser = new Browser(gh.issuer);
  const { challenge } = pkcePair();
  const page = (await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 's' })))) as Response;
  expect(page.status).toBe(200);
  return { browser, page, html: await page.text() };
}

const disable = (clientId: string) => gh.services.registry.setStatus(clientId, 'disabled', 'test');
const consents = async (clientId: string) => gh.services.handle.db('consents').where({ client_id: clientId });

describe('a client disabled during a sign-in gets nothing from the steps still to come', () => {
  it('the sign-in page and the password form refuse it with the disabled page', async () => {
    const clientId = await newClient();
    const { browser, page, html } = await start(clientId);
    await disable(clientId);
    const again = await browser.get(page.url);
    expect(again.status).toBe(403);
    expect(await again.text()).toContain('This application is disabled');
    const posted = await browser.postForm(new URL(formAction(html), gh.issuer).href, USER);
    expect(posted.status).toBe(403);
    expect(posted.headers.get('location')).toBeNull();
  });

  it('the consent form refuses it: no remembered consent, no code', async () => {
    const clientId = await newClient();
    const { browser, html } = await start(clientId);
    const consentPage = (await browser.follow(await browser.postForm(new URL(formAction(html), gh.issuer).href, USER))) as Response;
    const consentHtml = await consentPage.text();
    expect(consentHtml).toContain('Allow');
    await disable(clientId);
    const allowed = await browser.postForm(new URL(formAction(consentHtml), gh.issuer).href, { decision: 'allow' });
    expect(allowed.status).toBe(403);
    expect(await consents(clientId)).toEqual([]);
  });

  it('the resume refuses it: the consent given a moment before yields no code', async () => {
    const clientId = await newClient();
    const { browser, html } = await start(clientId);
    const consentPage = (await browser.follow(await browser.postForm(new URL(formAction(html), gh.issuer).href, USER))) as Response;
    const allowed = await browser.postForm(new URL(formAction(await consentPage.text()), gh.issuer).href, { decision: 'allow' });
    const resume = allowed.headers.get('location')!;
    expect(new URL(resume, gh.issuer).pathname).toMatch(/^\/authorize\/[^/]+$/);
    await disable(clientId);
    const res = await browser.get(new URL(resume, gh.issuer).href);
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
    const refused = await gh.services.audit.recent({ type: 'authorization.refused' });
    expect(refused.some((e) => e.client_id === clientId && /disabled/.test(String(e.reason)))).toBe(true);
  });

  it('a resume at another path with the resume cookie of the disabled client\'s sign-in is refused too (outside attack, issue 22)', async () => {
    const clientId = await newClient();
    const { browser, html } = await start(clientId);
    const consentPage = (await browser.follow(await browser.postForm(new URL(formAction(html), gh.issuer).href, USER))) as Response;
    const allowed = await browser.postForm(new URL(formAction(await consentPage.text()), gh.issuer).href, { decision: 'allow' });
    const resume = new URL(allowed.headers.get('location')!, gh.issuer);
    // The cookies a browser sends to the real resume path, carried by hand to other paths.
    const cookies = browser.jar.header(resume.href);
    expect(cookies).toContain('_interaction_resume');
    // Another sign-in under way, of an active client: its uid is a live interaction.
    const other = await start(await newClient());
    const otherUid = new URL(other.page.url).pathname.split('/').pop()!;
    await disable(clientId);
    for (const uid of ['doesnotexist', otherUid]) {
      const res = await fetch(`${gh.issuer}/authorize/${uid}`, { headers: { cookie: cookies }, redirect: 'manual' });
      const location = res.headers.get('location') ?? '';
      expect({ uid, status: res.status, code: new URL(location, gh.issuer).searchParams.get('code') }).toEqual({ uid, status: 403, code: null });
    }
  });

  it('an account disabled while its person is on the consent page: Allow is refused, no grant and no remembered consent (outside attack, issue 22)', async () => {
    const person = { email: `disabled-midway-${Date.now()}@example.com`, password: 'correct horse battery staple' };
    const accountId = (await gh.services.users.create(person)).id;
    const clientId = await newClient();
    const { browser, html } = await start(clientId);
    const consentPage = (await browser.follow(await browser.postForm(new URL(formAction(html), gh.issuer).href, person))) as Response;
    const consentHtml = await consentPage.text();
    expect(consentHtml).toContain('Allow');
    await gh.services.handle.db('accounts').where({ id: accountId }).update({ disabled_at: new Date() });
    const allowed = await browser.postForm(new URL(formAction(consentHtml), gh.issuer).href, { decision: 'allow' });
    expect(allowed.status).toBe(403);
    expect(await allowed.text()).toContain('Your account is disabled');
    expect(await consents(clientId)).toEqual([]);
    const grants = await gh.services.handle.db('oidc_payloads').where({ model: 'Grant' }).whereRaw(`payload::jsonb ->> 'accountId' = ?`, [accountId]);
    expect(grants).toEqual([]);
  });

  it('an account disabled between its Allow and the resume: no code, and a new sign-in rather than a 500 (outside attack, issue 22)', async () => {
    const person = { email: `disabled-at-resume-${Date.now()}@example.com`, password: 'correct horse battery staple' };
    const accountId = (await gh.services.users.create(person)).id;
    const clientId = await newClient();
    const { browser, html } = await start(clientId);
    const consentPage = (await browser.follow(await browser.postForm(new URL(formAction(html), gh.issuer).href, person))) as Response;
    const allowed = await browser.postForm(new URL(formAction(await consentPage.text()), gh.issuer).href, { decision: 'allow' });
    expect(allowed.status).toBe(302);
    await gh.services.handle.db('accounts').where({ id: accountId }).update({ disabled_at: new Date() });
    const res = await browser.get(new URL(allowed.headers.get('location')!, gh.issuer).href);
    const location = res.headers.get('location') ?? '';
    expect({ status: res.status < 500, code: new URL(location, gh.issuer).searchParams.get('code') }).toEqual({ status: true, code: null });
  });

  it('a browser signed in as an account disabled since: /authorize asks for a sign-in again, never a 500 (outside attack, issue 22)', async () => {
    const person = { email: `disabled-since-${Date.now()}@example.com`, password: 'correct horse battery staple' };
    const accountId = (await gh.services.users.create(person)).id;
    const clientId = await newClient();
    const browser = new Browser(gh.issuer);
    const { challenge } = pkcePair();
    const params = { client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read', state: 's' };
    expect((await authorizeThrough(browser, gh.issuer, params, person)).searchParams.get('code')).toBeTruthy();
    await gh.services.handle.db('accounts').where({ id: accountId }).update({ disabled_at: new Date() });
    // The consent is remembered: without the check the request went on to the consent checks with nobody and failed.
    const page = (await browser.follow(await browser.get(authorizeUrl(gh.issuer, params)))) as Response;
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="password"');
    const silent = await browser.follow(await browser.get(authorizeUrl(gh.issuer, { ...params, prompt: 'none' })));
    expect(silent).toBeInstanceOf(URL);
    expect({ error: (silent as URL).searchParams.get('error'), code: (silent as URL).searchParams.get('code') }).toEqual({ error: 'login_required', code: null });
  });
});
