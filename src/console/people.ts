// Console: people. Every account with the connections it signed in through, its groups, whether it is an
// administrator now (by the rule in force, console/admins.ts; not the mark recorded at its last sign-in) and status; a
// person's page lists their live grants (client, resources and scopes, when granted and until when). An admin may
// revoke one grant or all of them (the refresh tokens stop working at once; access tokens already issued live until
// they expire), and disable or enable the account. Disabling also revokes every grant and ends their console
// sessions; a disabled account is refused at login and at token refresh. An admin cannot disable themselves.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { countGrantsByAccount, grantsOfAccount, revokeGrant, revokeGrantsOfAccount } from '../oauth/adapter.js';
import type { Account } from '../upstream/accounts.js';
import { LOCAL_ISSUER } from '../upstream/local/accounts.js';
import type { Administrators } from './admins.js';
import type { ConsoleDeps } from './deps.js';
import { consoleState } from './guard.js';

const PAGE_SIZE = 50;
const MAX_PAGE = 10_000;
const MAX_Q = 200;

const when = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : '');
const who = (a: Account) => a.email ?? a.name ?? a.id;

export function peoplePages(deps: ConsoleDeps & { admins: Administrators }): Router {
  const router = consoleRouter();
  const { pages, accounts, db } = deps;

  async function personOf(ctx: Context): Promise<Account> {
    const id = String(ctx.params.id);
    const account = id.length <= 200 ? await accounts.findById(id) : undefined;
    if (!account) ctx.throw(404, 'no such person');
    return account;
  }

  async function clientName(clientId: string): Promise<string | null> {
    return (await deps.registry.find(clientId))?.clientName ?? (await deps.cimdClients.find(clientId))?.clientName ?? null;
  }

  router.get('/console/people', async (ctx) => {
    const rawQ = typeof ctx.query.q === 'string' ? ctx.query.q.trim() : '';
    const q = rawQ.slice(0, MAX_Q);
    const rawPage = typeof ctx.query.page === 'string' && /^\d{1,6}$/.test(ctx.query.page) ? Number(ctx.query.page) : 1;
    const page = Math.min(Math.max(rawPage, 1), MAX_PAGE);
    const rows = await accounts.list({ q: q || undefined, offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const shown = rows.slice(0, PAGE_SIZE);
    const grants = await countGrantsByAccount(db, shown.map((a) => a.id));
    const admins = await deps.admins.among(shown);
    const link = (p: number) => pages.url(`/people?${new URLSearchParams({ ...(q ? { q } : {}), page: String(p) }).toString()}`);
    pages.render(ctx, 'people', 'people', {
      title: 'People',
      q,
      people: shown.map((a) => ({ ...a, admin: admins.has(a.id), href: pages.url(`/people/${encodeURIComponent(a.id)}`), lastLogin: when(a.lastLoginAt), grants: grants.get(a.id) ?? 0 })),
      previous: page > 1 ? link(page - 1) : undefined,
      next: rows.length > PAGE_SIZE && page < MAX_PAGE ? link(page + 1) : undefined,
      page,
    });
  });

  /** A person's page; after a refused change, with the problem at the top and the status given. */
  async function showPerson(ctx: Context, person: Account, refused?: { status: number; problem: string }): Promise<void> {
    const grants = await grantsOfAccount(db, person.id);
    const names = new Map<string, string | null>();
    for (const g of grants) if (!names.has(g.clientId)) names.set(g.clientId, await clientName(g.clientId));
    pages.render(
      ctx,
      'people',
      'person',
      {
        title: who(person),
        person: { ...person, admin: await deps.admins.isAdmin(person), lastLogin: when(person.lastLoginAt) },
        self: person.id === consoleState(ctx).account.id,
        action: pages.url(`/people/${encodeURIComponent(person.id)}`),
        problem: refused?.problem,
        identities: await accounts.identities(person.id),
        grants: grants.map((g) => ({
          ...g,
          clientName: names.get(g.clientId) ?? null,
          clientHref: pages.url(`/clients/${encodeURIComponent(g.clientId)}`),
          resources: Object.entries(g.resources).map(([uri, scopes]) => ({ uri, scope: scopes.join(' ') })),
          granted: when(g.grantedAt),
          expires: when(g.expiresAt),
        })),
      },
      refused?.status ?? 200,
    );
  }

  router.get('/console/people/:id', async (ctx) => showPerson(ctx, await personOf(ctx)));

  router.post('/console/people/:id/grants/:grantId/revoke', async (ctx) => {
    const person = await personOf(ctx);
    const grantId = String(ctx.params.grantId);
    const grant = (await grantsOfAccount(db, person.id)).find((g) => g.grantId === grantId);
    if (!grant) return ctx.throw(404, 'no such grant of this person');
    await revokeGrant(db, grant.grantId);
    await pages.record(ctx, { type: 'console.grant.revoked', outcome: 'success', clientId: grant.clientId, details: { accountId: person.id, grantId: grant.grantId } });
    const name = (await clientName(grant.clientId)) ?? grant.clientId;
    pages.redirect(ctx, `/people/${encodeURIComponent(person.id)}`, `Revoked the grant of ${name} for ${who(person)}: its refresh tokens no longer work; access tokens already issued expire on their own.`);
  });

  router.post('/console/people/:id/revoke-all', async (ctx) => {
    const person = await personOf(ctx);
    const revoked = await revokeGrantsOfAccount(db, person.id);
    await pages.record(ctx, { type: 'console.grants.revoked_all', outcome: 'success', details: { accountId: person.id, grantIds: revoked, count: revoked.length } });
    pages.redirect(ctx, `/people/${encodeURIComponent(person.id)}`, `Revoked ${revoked.length} grant${revoked.length === 1 ? '' : 's'} of ${who(person)}.`);
  });

  /** The local user behind an account, if it has a password identity (its id is the account's: see Accounts.link). */
  async function localUsers(accountId: string): Promise<string[]> {
    return (await accounts.identities(accountId)).filter((i) => i.issuer === LOCAL_ISSUER).map((i) => i.subject);
  }

  router.post('/console/people/:id/disable', async (ctx) => {
    const person = await personOf(ctx);
    if (person.id === consoleState(ctx).account.id) {
      const reason = 'an administrator cannot disable their own account';
      await pages.record(ctx, { type: 'console.person.disabled', outcome: 'failure', reason, details: { accountId: person.id } });
      return showPerson(ctx, person, { status: 409, problem: 'You cannot disable your own account: you would lock yourself out of the console. Ask another administrator.' });
    }
    await accounts.setDisabled(person.id, true);
    // Password login checks `users` itself: keep it in step, so both say the same thing.
    for (const userId of await localUsers(person.id)) await deps.users.setDisabled(userId, true);
    const revoked = await revokeGrantsOfAccount(db, person.id);
    await deps.sessions.destroyForAccount(person.id);
    await pages.record(ctx, { type: 'console.person.disabled', outcome: 'success', details: { accountId: person.id, email: person.email, grantsRevoked: revoked.length } });
    pages.redirect(ctx, `/people/${encodeURIComponent(person.id)}`, `Disabled ${who(person)}: they can no longer sign in or refresh tokens; ${revoked.length} grant${revoked.length === 1 ? '' : 's'} revoked.`);
  });

  router.post('/console/people/:id/enable', async (ctx) => {
    const person = await personOf(ctx);
    await accounts.setDisabled(person.id, false);
    for (const userId of await localUsers(person.id)) await deps.users.setDisabled(userId, false);
    await pages.record(ctx, { type: 'console.person.enabled', outcome: 'success', details: { accountId: person.id, email: person.email } });
    pages.redirect(ctx, `/people/${encodeURIComponent(person.id)}`, `Enabled ${who(person)}: they can sign in again.`);
  });

  return router;
}
