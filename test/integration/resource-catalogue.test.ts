// Each MCP server's catalogue (scopes, the tools each unlocks) and access rules (issue #5): the catalogue is public at
// /catalogue and on the consent page; the rules decide who may get tokens for a server or one of its scopes, with a
// clear denial — checked at consent, again on a crafted Allow, and before a remembered grant is reused.
import { authorizeUrl, Browser, consent, login, pkcePair, registerPublicClient } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const NOTES = 'https://notes.example.test/mcp';
const REDIRECT = 'http://127.0.0.1:7001/callback';
const ANN = { email: 'ann@example.com', password: 'correct horse battery staple' };
const OUTSIDER = { email: 'olaf@elsewhere.test', password: 'correct horse battery staple' };

let db: TestDatabase;
let gh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer({
    ...db.env,
    RESOURCES: JSON.stringify([
      {
        uri: NOTES,
        name: 'Notes',
        description: 'Team notes',
        default: true,
        access: { email_domains: ['example.com'] },
        scopes: {
          'notes:read': { description: 'Read notes', tools: ['list_notes', 'read_note'] },
          'notes:delete': { description: 'Delete notes', tools: ['delete_note'], access: { groups: ['notes-admins'] } },
        },
      },
    ]),
  });
  await gh.services.users.create(ANN);
  await gh.services.users.create(OUTSIDER);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

async function begin(browser: Browser, scope: string) {
  const client = await registerPublicClient(gh.issuer, [REDIRECT]);
  const { challenge } = pkcePair();
  const res = await browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: NOTES, scope, state: 's1' })));
  return { client, res: res as Response };
}

describe('the catalogue', () => {
  it('is public at /catalogue: each scope with its description and tools, and no access rule', async () => {
    const res = await fetch(`${gh.issuer}/catalogue?resource=${encodeURIComponent(`${NOTES}`)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = await res.json();
    expect(body).toEqual({
      resource: NOTES,
      name: 'Notes',
      description: 'Team notes',
      scopes: { 'notes:read': { description: 'Read notes', tools: ['list_notes', 'read_note'] }, 'notes:delete': { description: 'Delete notes', tools: ['delete_note'] } },
      // no tool needs a person's approval (docs/TOOL-APPROVALS.md; tool-approvals.test.ts marks some)
      approvals: {},
    });
  });

  it('answers invalid_target for an unregistered resource', async () => {
    const res = await fetch(`${gh.issuer}/catalogue?resource=${encodeURIComponent('https://unknown.example.test/mcp')}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
  });

  it('is on the consent page: the tools each requested scope unlocks', async () => {
    const browser = new Browser(gh.issuer);
    const { res } = await begin(browser, 'notes:read');
    const page = (await login(browser, res, ANN.email, ANN.password)) as Response;
    const html = await page.text();
    expect(html).toContain('Read notes');
    expect(html).toContain('list_notes');
    expect(html).toContain('read_note');
    expect(html).not.toContain('delete_note');
  });
});

describe('access rules', () => {
  it('refuse a person outside the server\'s rule with a clear page, audited; its button sends the client access_denied', async () => {
    const browser = new Browser(gh.issuer);
    const { res } = await begin(browser, 'notes:read');
    const page = (await login(browser, res, OUTSIDER.email, OUTSIDER.password)) as Response;
    expect(page.status).toBe(403);
    const html = await page.clone().text();
    expect(html).toContain('may not use this MCP server');
    expect(html).toContain('Return to');
    // Its only button posts decision=deny: the client learns access_denied at its redirect URI.
    const action = /action="([^"]+)"/.exec(html)![1]!;
    const back = await browser.follow(await browser.postForm(new URL(action, gh.issuer).href, { decision: 'deny' }));
    expect(back).toBeInstanceOf(URL);
    expect((back as URL).searchParams.get('error')).toBe('access_denied');
    const refused = await gh.services.audit.recent({ type: 'authorization.refused' });
    expect(refused.some((e) => String(e.reason).startsWith('access rule: not allowed to use Notes'))).toBe(true);
  });

  it('refuse a scope restricted to a group, even when the server is allowed', async () => {
    const browser = new Browser(gh.issuer);
    const { res } = await begin(browser, 'notes:read notes:delete');
    const page = (await login(browser, res, ANN.email, ANN.password)) as Response;
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('notes:delete');
  });

  it('refuse a crafted Allow posted past the denial page', async () => {
    const browser = new Browser(gh.issuer);
    const { res } = await begin(browser, 'notes:delete');
    const page = (await login(browser, res, ANN.email, ANN.password)) as Response;
    const action = /action="([^"]+)"/.exec(await page.text())![1]!;
    const forced = await browser.postForm(new URL(action, gh.issuer).href, { decision: 'allow' });
    expect(forced.status).toBe(403);
    expect(forced.headers.get('location')).toBeNull();
  });

  it('are checked again before a remembered grant is reused: a rule tightened since consent denies the next authorization', async () => {
    const browser = new Browser(gh.issuer);
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const start = async () => {
      const { challenge } = pkcePair();
      return browser.follow(await browser.get(authorizeUrl(gh.issuer, { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: NOTES, scope: 'notes:read', state: 's2' })));
    };
    let step = await login(browser, (await start()) as Response, ANN.email, ANN.password);
    step = await consent(browser, step as Response, 'allow');
    expect((step as URL).searchParams.get('code')).toBeTruthy();
    // Remembered: the next authorization goes straight back with a code.
    expect(((await start()) as URL).searchParams.get('code')).toBeTruthy();
    await gh.services.resources.upsert({ uri: NOTES, name: 'Notes', default: true, access: { email_domains: [], groups: ['nobody-yet'] }, scopes: { 'notes:read': { description: 'Read notes', tools: ['list_notes'] } } });
    gh.services.resources.invalidate();
    const denied = (await start()) as Response;
    expect(denied.status).toBe(403);
  });
});
