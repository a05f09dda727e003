// Console: people. Every account with the connections it signed in through, its groups, whether it is an
// administrator now (by the rule in force, console/admins.ts; not the mark recorded at its last sign-in) and status; a
// person's page lists their live grants (client, resources and scopes, when granted and until when). An admin may
// revoke one grant or all of them (the refresh tokens stop working at once; access tokens already issued live until
// they expire), disable or enable the account, and set or clear the local admin mark of a password account. Every
// action is the admin service layer's (admin/people.ts, admin/grants.ts; docs/ARCHITECTURE.md "The admin service
// layer"): its refusals (yourself, the last administrator, a disabled person) show on the person's page.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { personActor, type Actor } from '../admin/actor.js';
import { AdminError } from '../admin/admin-error.js';
import { GrantAdmin } from '../admin/grants.js';
import { PeopleAdmin } from '../admin/people.js';
import { requestOrigin } from '../audit/writer.js';
import { countGrantsByAccount, grantsOfAccount } from '../oauth/adapter.js';
import type { Account } from '../upstream/accounts.js';
import type { Administrators } from './admins.js';
import type { ConsoleDeps } from './deps.js';
import { inLane } from '../admin/serialized.js';
import { consoleState } from './guard.js';

const PAGE_SIZE = 50;
const MAX_PAGE = 10_000;
const MAX_Q = 200;

const when = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : '');
const who = (a: Account) => a.email ?? a.name ?? a.id;

export function peoplePages(deps: ConsoleDeps & { admins: Administrators }): Router {
  const router = consoleRouter();
  const { pages, accounts, db } = deps;
  const people = inLane(new PeopleAdmin(deps), deps);
  const grantAdmin = inLane(new GrantAdmin(deps), deps);
  const actorOf = (ctx: Context): Actor => personActor(consoleState(ctx).account, requestOrigin(ctx));

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
        person: { ...person, admin: await deps.admins.isAdmin(person), localAdmin: (await people.find(person.id))?.localAdmin ?? null, lastLogin: when(person.lastLoginAt) },
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

  /** Runs a service action; a refusal shows the person's page with the problem and its status (404 as a page). */
  async function act(ctx: Context, person: Account, action: () => Promise<string>): Promise<void> {
    try {
      pages.redirect(ctx, `/people/${encodeURIComponent(person.id)}`, await action());
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      if (err.status === 404) ctx.throw(404, err.message);
      const fresh = (await accounts.findById(person.id)) ?? person;
      return showPerson(ctx, fresh, { status: err.status, problem: err.message });
    }
  }

  router.post('/console/people/:id/grants/:grantId/revoke', async (ctx) => {
    const person = await personOf(ctx);
    await act(ctx, person, async () => {
      const grant = await grantAdmin.revoke(actorOf(ctx), String(ctx.params.grantId), { accountId: person.id });
      const name = (await clientName(grant.clientId)) ?? grant.clientId;
      return `Revoked the grant of ${name} for ${who(person)}: its refresh tokens no longer work; access tokens already issued expire on their own.`;
    });
  });

  router.post('/console/people/:id/revoke-all', async (ctx) => {
    const person = await personOf(ctx);
    await act(ctx, person, async () => {
      const { grantIds } = await people.revokeGrants(actorOf(ctx), person.id);
      return `Revoked ${grantIds.length} grant${grantIds.length === 1 ? '' : 's'} of ${who(person)}.`;
    });
  });

  router.post('/console/people/:id/disable', async (ctx) => {
    const person = await personOf(ctx);
    await act(ctx, person, async () => {
      const { grantsRevoked } = await people.disable(actorOf(ctx), person.id);
      return `Disabled ${who(person)}: they can no longer sign in or refresh tokens; ${grantsRevoked} grant${grantsRevoked === 1 ? '' : 's'} revoked.`;
    });
  });

  router.post('/console/people/:id/enable', async (ctx) => {
    const person = await personOf(ctx);
    await act(ctx, person, async () => {
      await people.enable(actorOf(ctx), person.id);
      return `Enabled ${who(person)}: they can sign in again.`;
    });
  });

  router.post('/console/people/:id/make-admin', async (ctx) => {
    const person = await personOf(ctx);
    await act(ctx, person, async () => {
      await people.makeAdmin(actorOf(ctx), person.id);
      return `${who(person)} is marked as an administrator.`;
    });
  });

  router.post('/console/people/:id/unmake-admin', async (ctx) => {
    const person = await personOf(ctx);
    await act(ctx, person, async () => {
      await people.unmakeAdmin(actorOf(ctx), person.id);
      return `${who(person)} is no longer marked as an administrator.`;
    });
  });

  return router;
}
