// Console: people (docs/PEOPLE.md). Every account with the connections it signed in through, its groups, whether it is
// an administrator now (by the rule in force, console/admins.ts; not the mark recorded at its last sign-in) and status;
// a local person is added here and gets an invitation link (shown once; never a password). A person's page shows
// their identities with the last re-validation and its outcome, a deprovisioned badge, their sessions and their live
// grants (client, resources and scopes, when granted and until when). An admin may send a password reset link (shown
// once), end every session, revoke one grant or all of them (the refresh tokens stop working at once; access tokens
// already issued live until they expire), disable or enable the account, and set or clear the local admin mark of a
// password account. Every action is the admin service layer's (admin/people.ts, admin/grants.ts;
// docs/ARCHITECTURE.md "The admin service layer"): its refusals (yourself, the last administrator, a disabled person,
// a reset for someone without a password account) show on the person's page.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { personActor, type Actor } from '../admin/actor.js';
import { AdminError } from '../admin/admin-error.js';
import { GrantAdmin } from '../admin/grants.js';
import { PeopleAdmin, type Person, type PersonLink } from '../admin/people.js';
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
const who = (a: Pick<Account, 'email' | 'name' | 'id'>) => a.email ?? a.name ?? a.id;
const SESSION_KINDS = { console: 'Console', account: 'Account pages', sign_in: 'Browser sign-in' } as const;

interface AddForm {
  email: string;
  name: string;
  admin: boolean;
}

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

  /** The people list; after a refused addition, with the problem and the form as it was sent. */
  async function showList(ctx: Context, added?: { status: number; problem: string; field?: string | undefined; form: AddForm }): Promise<void> {
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
      addAction: pages.url('/people'),
      add: added ? { problem: added.problem, field: added.field ?? 'form', form: added.form } : { form: { email: '', name: '', admin: false } },
    }, added?.status ?? 200);
  }

  router.get('/console/people', (ctx) => showList(ctx));

  /** Adds a local person: their invitation link is shown once, on this answer only (a reload posts again and is refused). */
  router.post('/console/people', async (ctx) => {
    const raw = consoleState(ctx).form;
    const form: AddForm = { email: (raw.email ?? '').trim().slice(0, 254), name: (raw.name ?? '').trim().slice(0, 200), admin: raw.admin === 'on' };
    try {
      const added = await people.addLocal(actorOf(ctx), { email: form.email, name: form.name || undefined, admin: form.admin });
      showLink(ctx, added.person, added.invitation!);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      await showList(ctx, { status: err.status, problem: err.message, field: err.field, form });
    }
  });

  /** The page that shows a one-time link, once: it is stored nowhere readable and never shown again. */
  function showLink(ctx: Context, person: Person, link: PersonLink): void {
    pages.render(ctx, 'people', 'person-link', {
      title: link.kind === 'invitation' ? 'Invitation link' : 'Password reset link',
      person: { email: person.email ?? person.id, href: pages.url(`/people/${encodeURIComponent(person.id)}`) },
      link: { ...link, expires: when(link.expiresAt) },
    });
  }

  /** A person's page; after a refused change, with the problem at the top and the status given. */
  async function showPerson(ctx: Context, account: Account, refused?: { status: number; problem: string }): Promise<void> {
    const person = await people.find(account.id);
    if (!person) ctx.throw(404, 'no such person');
    const grants = await grantsOfAccount(db, person.id);
    const names = new Map<string, string | null>();
    for (const g of grants) if (!names.has(g.clientId)) names.set(g.clientId, await clientName(g.clientId));
    pages.render(
      ctx,
      'people',
      'person',
      {
        title: who(account),
        person: { ...person, lastLogin: when(person.lastLoginAt) },
        deprovisioned: person.deprovisioned ? { at: when(person.deprovisioned.at), reason: person.deprovisioned.reason } : null,
        self: person.id === consoleState(ctx).account.id,
        action: pages.url(`/people/${encodeURIComponent(person.id)}`),
        problem: refused?.problem,
        identities: person.identities.map((i) => ({
          ...i,
          lastLogin: when(i.lastLoginAt),
          revalidated: when(i.revalidatedAt),
          checked: when(i.revalidationCheckedAt),
        })),
        sessions: (await people.sessions(person.id)).map((s) => ({ kind: SESSION_KINDS[s.kind], created: when(s.createdAt), lastSeen: when(s.lastSeenAt), expires: when(s.expiresAt) })),
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

  router.post('/console/people/:id/reset-password', async (ctx) => {
    const person = await personOf(ctx);
    try {
      const { person: shown, link } = await people.resetPassword(actorOf(ctx), person.id);
      showLink(ctx, shown, link);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      if (err.status === 404) ctx.throw(404, err.message);
      return showPerson(ctx, (await accounts.findById(person.id)) ?? person, { status: err.status, problem: err.message });
    }
  });

  router.post('/console/people/:id/end-sessions', async (ctx) => {
    const person = await personOf(ctx);
    await act(ctx, person, async () => {
      const { ended } = await people.endSessions(actorOf(ctx), person.id);
      const total = ended.console + ended.account + ended.sign_in;
      return `Ended ${total} session${total === 1 ? '' : 's'} of ${who(person)}: they sign in again where they were signed in. Their grants stay.`;
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
