// Console MCP servers page: an admin lists, creates, edits and deletes MCP servers (resources) with their scope
// catalogue and access rule; a server created here can be authorized for at once; refused input stores nothing;
// the detail page shows the PRM document and the kit code; every change is audited naming the admin.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from '../../helpers/browser-flow.js';
import { consoleSignIn, type ConsoleBrowser } from '../../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const REDIRECT = 'http://127.0.0.1:45124/cb';
const NOTES = 'https://notes.example.test/mcp';
const EVIL = '<script>alert(1)</script><img src=x onerror=alert(1)>';

let db: TestDatabase;
let gh: TestServer;
let admin: ConsoleBrowser;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

const id = (uri: string) => encodeURIComponent(uri);
const decode = (html: string) => html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const stored = (uri: string) => gh.services.handle.db('resources').where({ uri }).first();
const create = (form: Record<string, string>) => admin.submit('/resources', '/resources/new', form);
const lastEvent = async (type: string) => (await gh.services.audit.recent({ type, limit: 1 }))[0];

describe('the MCP servers list', () => {
  it('shows every registered server with its URI, scopes, access rule and default flag, and links to New MCP server', async () => {
    const page = await admin.page('/resources');
    expect(page.status).toBe(200);
    expect(page.html).toContain('<h1>MCP servers</h1>');
    expect(page.html).toMatch(/aria-current="page">MCP servers</);
    expect(page.html).toContain(`href="/console/resources/new">New MCP server</a>`);
    expect(page.html).toContain(`<code>${TEST_RESOURCE}</code>`);
    expect(page.html).toContain('tools:read tools:write');
    expect(page.html).toContain(`href="/console/resources/${id(TEST_RESOURCE)}"`);
    expect(page.html).toContain('Anyone who may sign in');
    expect(page.html).toMatch(/<td>Yes<\/td>/);
  });
});

describe('creating an MCP server', () => {
  it('stores the catalogue as entered, publishes it at /catalogue, and an authorization for it works at once', async () => {
    const res = await create({
      uri: NOTES,
      name: 'Notes',
      description: 'Team notes',
      scopes: 'notes:read | Read your notes | list_notes, get_note\n# comment lines are ignored\n\nnotes:write | Write notes',
      emailDomains: 'Example.com',
      groups: '',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/console/resources/${id(NOTES)}`);

    const r = await gh.services.resources.find(NOTES);
    expect(r).toBeDefined();
    expect(r!.name).toBe('Notes');
    expect(r!.description).toBe('Team notes');
    expect(r!.catalogue).toEqual({
      'notes:read': { description: 'Read your notes', tools: ['list_notes', 'get_note'] },
      'notes:write': { description: 'Write notes', tools: [] },
    });
    expect(r!.access).toEqual({ emailDomains: ['example.com'], groups: [] });
    expect(r!.isDefault).toBe(false);

    const event = await lastEvent('resource.created');
    expect(event).toMatchObject({ outcome: 'success', actor: ADMIN.email, resource: NOTES });

    const cat = await fetch(`${gh.issuer}/catalogue?resource=${id(NOTES)}`);
    expect(cat.status).toBe(200);
    expect(await cat.json()).toMatchObject({
      resource: NOTES,
      name: 'Notes',
      scopes: { 'notes:read': { description: 'Read your notes', tools: ['list_notes', 'get_note'] }, 'notes:write': { description: 'Write notes', tools: [] } },
    });

    // Straight after creation (no cache to wait for): login, consent, code and a token for the new server.
    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { verifier, challenge } = pkcePair();
    const params = { client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: NOTES, scope: 'notes:read' };
    const back = await authorizeThrough(new Browser(new URL(gh.issuer).origin), gh.issuer, params, ADMIN);
    const code = back.searchParams.get('code');
    expect(code).toBeTruthy();
    const tokens = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: code!, code_verifier: verifier, client_id: client.client_id, redirect_uri: REDIRECT });
    expect(tokens.status).toBe(200);
    const claims = decodeJwt(tokens.body.access_token as string);
    expect(claims.aud).toBe(NOTES);
    expect(claims.scope).toBe('notes:read');
  });

  it('refuses a bad scope line with 400 naming the line, keeps the form, and stores nothing', async () => {
    const uri = 'https://bad-scopes.example.test/mcp';
    const typed = 'good | fine\nbad scope | has a space\ngood | again\nx | y | not a tool!';
    const res = await create({ uri, name: 'Bad', scopes: typed, emailDomains: '', groups: '' });
    expect(res.status).toBe(400);
    const html = decode(await res.text());
    expect(html).toMatch(/Line 2: "bad scope" is not a valid scope name/);
    expect(html).toContain('Line 3: scope good is already on line 1');
    expect(html).toMatch(/Line 4: tool "not a tool!" is not a valid MCP tool name/);
    expect(html).toContain(`>${typed}</textarea>`);
    expect(html).toContain(`value="${uri}"`);
    expect(html).toContain('aria-invalid="true"');
    expect(await stored(uri)).toBeUndefined();
    expect(await lastEvent('resource.created')).toMatchObject({ outcome: 'failure', actor: ADMIN.email, reason: 'invalid input' });

    const domain = await create({ uri, scopes: 'a | b | | not a domain', emailDomains: '', groups: '' });
    expect(domain.status).toBe(400);
    expect(decode(await domain.text())).toContain('Line 1: "not a domain" is not an email domain');
    expect(await stored(uri)).toBeUndefined();
  });

  it('refuses a non-canonical or invalid URI (showing the canonical form), and an existing one with 409', async () => {
    const upper = await create({ uri: 'https://Upper.Example.test:443/', scopes: '', emailDomains: '', groups: '' });
    expect(upper.status).toBe(400);
    expect(decode(await upper.text())).toContain('Not in canonical form: tokens name this server https://upper.example.test');
    expect(await stored('https://upper.example.test')).toBeUndefined();

    const fragment = await create({ uri: 'https://frag.example.test/mcp#x', scopes: '', emailDomains: '', groups: '' });
    expect(fragment.status).toBe(400);
    expect(decode(await fragment.text())).toContain('Resource must not contain a fragment');
    const relative = await create({ uri: '/mcp', scopes: '', emailDomains: '', groups: '' });
    expect(relative.status).toBe(400);

    const before = await stored(TEST_RESOURCE);
    const dup = await create({ uri: TEST_RESOURCE, name: 'Hijack', scopes: 'x', emailDomains: '', groups: '' });
    expect(dup.status).toBe(409);
    expect(decode(await dup.text())).toContain('exists already');
    expect(await stored(TEST_RESOURCE)).toEqual(before);
    expect(await lastEvent('resource.created')).toMatchObject({ outcome: 'failure', reason: expect.stringContaining('exists already'), resource: TEST_RESOURCE });
  });
});

describe('an MCP server page', () => {
  it('routes the URL-encoded URI (encoded slashes), 404s an unknown one, and shows the catalogue, PRM and kit code', async () => {
    const page = await admin.page(`/resources/${id(NOTES)}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<h1>Notes</h1>');
    expect(page.html).toContain('<td><code>notes:read</code></td><td>Read your notes</td><td class="wrap">list_notes, get_note</td>');

    const prmText = decode(/<code id="prm">([\s\S]*?)<\/code>/.exec(page.html)![1]!);
    expect(JSON.parse(prmText)).toEqual({
      resource: NOTES,
      authorization_servers: [gh.issuer],
      scopes_supported: ['notes:read', 'notes:write'],
      bearer_methods_supported: ['header'],
    });
    expect(page.html).toContain('<code class="wrap">/.well-known/oauth-protected-resource/mcp</code>');
    const kit = decode(/<code id="kit">([\s\S]*?)<\/code>/.exec(page.html)![1]!);
    expect(kit).toContain("import { protectedResource } from '@gatehouse/resource-server';");
    expect(kit).toContain(`protectedResource({ issuer: '${gh.issuer}', resource: '${NOTES}' })`);
    expect(page.html).toMatch(/<button type="submit" class="danger">Delete<\/button>/);

    expect((await admin.page(`/resources/${id('https://nowhere.example.test/mcp')}`)).status).toBe(404);
    expect((await admin.page(`/resources/${id('not a uri')}`)).status).toBe(404);
    expect((await admin.submit(`/resources/${id('https://nowhere.example.test/mcp')}`, '/resources', { name: 'x', scopes: '' })).status).toBe(404);
    expect(await stored('https://nowhere.example.test/mcp')).toBeUndefined();
  });

  it('edits the description, scopes and access rule (the URI stays), audited', async () => {
    const res = await admin.submit(`/resources/${id(NOTES)}`, `/resources/${id(NOTES)}`, {
      uri: 'https://elsewhere.example.test/ignored',
      name: 'Notes',
      description: 'Notes of the whole team',
      scopes: 'notes:read | Read notes | list_notes\nnotes:admin | Manage notes | purge | | note-admins',
      emailDomains: '',
      groups: 'staff, contractors',
      isDefault: 'on',
    });
    expect(res.status).toBe(303);
    const r = (await gh.services.resources.find(NOTES))!;
    expect(r.description).toBe('Notes of the whole team');
    expect(r.access).toEqual({ emailDomains: [], groups: ['staff', 'contractors'] });
    expect(r.catalogue).toEqual({
      'notes:read': { description: 'Read notes', tools: ['list_notes'] },
      'notes:admin': { description: 'Manage notes', tools: ['purge'], access: { emailDomains: [], groups: ['note-admins'] } },
    });
    expect(r.isDefault).toBe(true);
    expect((await gh.services.resources.find(TEST_RESOURCE))!.isDefault).toBe(false);
    expect(await gh.services.resources.find('https://elsewhere.example.test/ignored')).toBeUndefined();
    expect(await lastEvent('resource.updated')).toMatchObject({ outcome: 'success', actor: ADMIN.email, resource: NOTES });

    // The edit form shows the stored values back in the same line format.
    const page = decode((await admin.page(`/resources/${id(NOTES)}`)).html);
    expect(page).toContain('notes:read | Read notes | list_notes\nnotes:admin | Manage notes | purge |  | note-admins</textarea>');
    expect(page).toContain('value="staff, contractors"');
    expect(page).toMatch(/name="isDefault" type="checkbox" value="on" checked/);

    const bad = await admin.submit(`/resources/${id(NOTES)}`, `/resources/${id(NOTES)}`, { name: 'Notes', scopes: 'ok\nok', emailDomains: '', groups: '' });
    expect(bad.status).toBe(400);
    expect(decode(await bad.text())).toContain('Line 2: scope ok is already on line 1');
    expect(Object.keys((await gh.services.resources.find(NOTES))!.scopes)).toEqual(['notes:read', 'notes:admin']);

    await gh.services.resources.upsert({ uri: TEST_RESOURCE, name: 'Example MCP', scopes: { 'tools:read': 'List and call read-only tools', 'tools:write': 'Call tools that change data' }, default: true });
  });

  it('marks tools for a person\'s approval: per tool, per scope (sixth column), reported destructive tools; /catalogue publishes them', async () => {
    const form = { name: 'Notes', description: '', scopes: 'notes:write | Change notes | edit_note, delete_note | | | once-per-grant', emailDomains: '', groups: '', destructiveApproval: 'each-call' };
    const res = await admin.submit(`/resources/${id(NOTES)}`, `/resources/${id(NOTES)}`, { ...form, toolApprovals: 'delete_note\nexport | once-per-grant' });
    expect(res.status).toBe(303);
    const r = (await gh.services.resources.find(NOTES))!;
    expect(r.catalogue['notes:write']!.approval).toBe('once-per-grant');
    expect(r.toolApproval).toEqual({ delete_note: 'each-call', export: 'once-per-grant' });
    expect(r.destructiveToolsApproval).toBe('each-call');
    const published = (await (await fetch(`${gh.issuer}/catalogue?resource=${encodeURIComponent(NOTES)}`)).json()) as { approvals: Record<string, string> };
    expect(published.approvals).toEqual({ delete_note: 'each-call', edit_note: 'once-per-grant', export: 'once-per-grant' });
    const page = decode((await admin.page(`/resources/${id(NOTES)}`)).html);
    expect(page).toContain('delete_note | each-call\nexport | once-per-grant</textarea>');
    expect(page).toContain('edit_note, delete_note |  |  | once-per-grant');
    expect(page).toMatch(/<option value="each-call" selected>/);
    expect(page).toContain('<li><code>edit_note</code> — once per application</li>');
    // No report from a kit that enforces approvals yet: the page says so.
    expect(page).toContain('has not reported running <code>@gatehouse/resource-server</code> 0.3.0 or later');

    const bad = await admin.submit(`/resources/${id(NOTES)}`, `/resources/${id(NOTES)}`, { ...form, toolApprovals: 'delete_note | always' });
    expect(bad.status).toBe(400);
    expect(decode(await bad.text())).toContain('Line 1: expected "tool" or "tool | each-call" or "tool | once-per-grant"');
    const badScope = await admin.submit(`/resources/${id(NOTES)}`, `/resources/${id(NOTES)}`, { ...form, scopes: 'notes:write | Change | edit_note | | | sometimes', toolApprovals: '' });
    expect(badScope.status).toBe(400);
    expect(decode(await badScope.text())).toContain('Line 1: the approval must be each-call or once-per-grant');
    expect((await gh.services.resources.find(NOTES))!.toolApproval).toEqual({ delete_note: 'each-call', export: 'once-per-grant' });
  });

  it('sets the delegation policy (docs/DELEGATION.md): connections and MCP servers with their scopes, shown back; bad lines refused, nothing stored', async () => {
    const form = { name: 'Notes', description: '', scopes: 'notes:read', emailDomains: '', groups: '', destructiveApproval: '', toolApprovals: '' };
    const res = await admin.submit(`/resources/${id(NOTES)}`, `/resources/${id(NOTES)}`, { ...form, delegateConnections: 'github | repo read:user\nentra', delegateResources: 'https://files.example.test/mcp | files:read' });
    expect(res.status).toBe(303);
    expect((await gh.services.resources.find(NOTES))!.delegation).toEqual({ connections: { github: ['repo', 'read:user'], entra: [] }, resources: { 'https://files.example.test/mcp': ['files:read'] } });
    const page = decode((await admin.page(`/resources/${id(NOTES)}`)).html);
    expect(page).toContain('entra\ngithub | repo read:user</textarea>');
    expect(page).toContain('https://files.example.test/mcp | files:read</textarea>');
    for (const [field, value, message] of [
      ['delegateConnections', 'Not An Id | repo', 'is not a connection id'],
      ['delegateConnections', 'github | a | b', 'Line 1: expected'],
      ['delegateResources', 'not a url | x', 'must be an absolute URL'],
      ['delegateResources', `${NOTES} | notes:read`, 'does not exchange tokens for itself'],
      ['delegateConnections', '__proto__ | repo', 'is a reserved name'],
    ] as const) {
      const bad = await admin.submit(`/resources/${id(NOTES)}`, `/resources/${id(NOTES)}`, { ...form, delegateConnections: '', delegateResources: '', [field]: value });
      expect({ value, status: bad.status }).toEqual({ value, status: 400 });
      expect(decode(await bad.text())).toContain(message);
    }
    expect((await gh.services.resources.find(NOTES))!.delegation.connections).toEqual({ github: ['repo', 'read:user'], entra: [] });
  });

  it('shows HTML in names and descriptions escaped', async () => {
    const uri = 'https://escape.example.test/mcp';
    const res = await create({ uri, name: EVIL, description: EVIL, scopes: `s | ${EVIL.replace(/\|/g, '')}`, emailDomains: '', groups: '' });
    expect(res.status).toBe(303);
    for (const path of ['/resources', `/resources/${id(uri)}`, `/resources/${id(uri)}/delete`]) {
      const { html } = await admin.page(path);
      expect(html).not.toContain('<script>alert(1)');
      expect(html).not.toContain('<img src=x');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
    }
  });
});

describe('deleting an MCP server', () => {
  it('asks first, then deletes it: gone from the list, /catalogue and authorization; audited', async () => {
    const confirm = await admin.page(`/resources/${id(NOTES)}/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('<h1>Delete Notes?</h1>');
    expect(confirm.html).toContain(`action="/console/resources/${id(NOTES)}/delete"`);
    expect(await gh.services.resources.find(NOTES)).toBeDefined(); // the GET changed nothing

    const res = await admin.submit(`/resources/${id(NOTES)}/delete`, `/resources/${id(NOTES)}/delete`, {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/resources');
    expect(await stored(NOTES)).toBeUndefined();
    expect((await admin.page('/resources')).html).not.toContain(`<code>${NOTES}</code>`);
    expect((await fetch(`${gh.issuer}/catalogue?resource=${id(NOTES)}`)).status).toBe(404);
    expect(await lastEvent('resource.deleted')).toMatchObject({ outcome: 'success', actor: ADMIN.email, resource: NOTES });

    const client = await registerPublicClient(gh.issuer, [REDIRECT]);
    const { challenge } = pkcePair();
    const back = await fetch(`${gh.issuer}/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256', resource: NOTES, scope: 'notes:read' })}`, { redirect: 'manual' });
    expect(new URL(back.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');

    expect((await admin.submit(`/resources/${id(NOTES)}/delete`, '/resources', {})).status).toBe(404);
  });

  it('warns that a server from RESOURCES comes back at the next start', async () => {
    const page = await admin.page(`/resources/${id(TEST_RESOURCE)}/delete`);
    expect(page.html).toContain('comes back at the next start');
  });
});

describe('filtering and paging the list', () => {
  it('filters by text, pages by 50 with Next/Previous, and treats hostile parameters as harmless', async () => {
    const filtered = await admin.page('/resources?q=OTHER');
    expect(filtered.status).toBe(200);
    expect(filtered.html).toContain('<code>https://tools.example.test</code>');
    expect(filtered.html).not.toContain(`<code>${TEST_RESOURCE}</code>`);
    expect(filtered.html).toContain('name="q" type="search" value="OTHER"');

    const hostile = await admin.page(`/resources?q=${encodeURIComponent('"><script>x</script>')}&page=-3&page=x`);
    expect(hostile.status).toBe(200);
    expect(hostile.html).not.toContain('<script>x');
    expect(hostile.html).toContain('value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
    expect(hostile.html).toContain('Nothing matches.');

    const many = Array.from({ length: 55 }, (_, i) => `https://bulk-${String(i).padStart(2, '0')}.example.test/mcp`);
    for (const uri of many) await gh.services.resources.upsert({ uri, name: `Bulk ${uri}` });
    try {
      const first = await admin.page('/resources?q=bulk');
      expect(first.html.match(/<code>https:\/\/bulk-/g)).toHaveLength(50);
      expect(first.html).toContain('Page 1 of 2 (55)');
      expect(first.html).toContain('href="/console/resources?q=bulk&amp;page=2" rel="next">Next</a>');
      expect(first.html).not.toContain('>Previous</a>');
      const second = await admin.page('/resources?q=bulk&page=2');
      expect(second.html.match(/<code>https:\/\/bulk-/g)).toHaveLength(5);
      expect(second.html).toContain('rel="prev">Previous</a>');
      expect((await admin.page('/resources?q=bulk&page=999999')).html).toContain('Page 2 of 2 (55)');
    } finally {
      for (const uri of many) await gh.services.resources.remove(uri);
    }
  });
});
