// The admin API's people (docs/ADMIN-API.md, "People"; docs/PEOPLE.md): everyone with an account, with their
// identities, last re-validation and deprovisioning, searched and paged; a local person added with an invitation link
// (or, for automation, a given password); password reset links; accounts disabled and enabled; the local
// administrator mark set and cleared; a person's grants listed and revoked; their sessions listed and ended. Each
// change is one call of admin/people.ts, which checks, changes and audits. A password is write-only and never
// answered; a link is answered once and is in no audit event. The actions take no version (If-Match is refused):
// each is a transition the service refuses with 409 when it does not apply (disabling a disabled person).
import { z } from 'zod';
import type { AdminServices } from '../../admin/index.js';
import type { PersonLink, PersonSession, Person as PersonView } from '../../admin/people.js';
import { AdminError } from '../../admin/admin-error.js';
import { versionOf } from '../../admin/version.js';
import { operation, type Operation } from '../operation.js';
import { PageQuery, pageOf, text } from '../schemas.js';
import { GrantPage, grantJson } from './grants.js';

export const Person = z
  .object({
    id: z.string().meta({ description: 'The account id.' }),
    email: z.string().nullable(),
    email_verified: z.boolean(),
    name: z.string().nullable(),
    groups: z.array(z.string()),
    admin: z.boolean().meta({ description: 'An administrator now, by the rule in force (the local mark, ADMIN_EMAILS, ADMIN_GROUPS).' }),
    local_admin: z.boolean().nullable().meta({ description: 'The administrator mark of their password account; null when they have none (an IdP decides).' }),
    disabled: z.boolean(),
    last_login_at: z.string().nullable(),
    connections: z.array(z.string()).meta({ description: 'The connections they signed in through (or, added locally, will).' }),
    identities: z
      .array(
        z
          .object({
            connection_id: z.string(),
            connection_name: z.string().nullable().meta({ description: 'null once the connection is removed.' }),
            issuer: z.string(),
            subject: z.string(),
            email: z.string().nullable(),
            last_login_at: z.string().nullable(),
            revalidated_at: z.string().nullable().meta({ description: 'The last time the identity provider vouched for the person: a login or a successful re-validation.' }),
            revalidation_checked_at: z.string().nullable().meta({ description: 'The last re-validation attempt, whatever its outcome.' }),
            revalidation_outcome: z.string().nullable().meta({ description: 'How the last attempt ended: login, ok, updated, gone, unavailable or cannot.' }),
            revalidation_detail: z.string().nullable(),
          })
          .meta({ id: 'PersonIdentity' }),
      )
      .meta({ description: 'The identities linked to the account, oldest first.' }),
    deprovisioned: z
      .object({ at: z.string(), reason: z.string().nullable() })
      .nullable()
      .meta({ description: 'Set when the identity provider said the person is gone (cleared when they sign in through it again); null otherwise.' }),
    version: z.string(),
  })
  .meta({ id: 'Person' });

const Link = z
  .object({
    kind: z.enum(['invitation', 'password_reset']),
    url: z.string().meta({ description: 'The one-time link: answered once, stored only as a digest. The person chooses their password there.' }),
    expires_at: z.string(),
  })
  .meta({ id: 'PersonLink', description: 'An invitation is valid 7 days, a password reset 1 hour; a newer link of a kind replaces the older one.' });

const Session = z
  .object({
    kind: z.enum(['console', 'account', 'sign_in']).meta({ description: 'console: the admin console; account: the person\'s own pages; sign_in: a browser sign-in at /authorize.' }),
    created_at: z.string(),
    last_seen_at: z.string().nullable().meta({ description: 'The last request (to within 30 s); for a browser sign-in, its last login.' }),
    expires_at: z.string().nullable(),
  })
  .meta({ id: 'PersonSession' });

const iso = (d: Date | null) => d?.toISOString() ?? null;
const linkJson = (l: PersonLink) => ({ kind: l.kind, url: l.url, expires_at: l.expiresAt.toISOString() });
const sessionJson = (s: PersonSession) => ({ kind: s.kind, created_at: s.createdAt.toISOString(), last_seen_at: iso(s.lastSeenAt), expires_at: iso(s.expiresAt) });

const PersonId = z.object({ id: z.string().min(1).max(200).meta({ description: 'The account id.' }) });

export function personJson(p: PersonView) {
  const view = {
    id: p.id, email: p.email, email_verified: p.emailVerified, name: p.name, groups: p.groups, admin: p.admin, local_admin: p.localAdmin,
    disabled: p.disabled, last_login_at: p.lastLoginAt?.toISOString() ?? null, connections: p.connections,
    identities: p.identities.map((i) => ({
      connection_id: i.connectionId, connection_name: i.connectionName, issuer: i.issuer, subject: i.subject, email: i.email, last_login_at: iso(i.lastLoginAt),
      revalidated_at: iso(i.revalidatedAt), revalidation_checked_at: iso(i.revalidationCheckedAt), revalidation_outcome: i.revalidationOutcome, revalidation_detail: i.revalidationDetail,
    })),
    deprovisioned: p.deprovisioned ? { at: p.deprovisioned.at.toISOString(), reason: p.deprovisioned.reason } : null,
  };
  return { ...view, version: versionOf(view) };
}

const shown = (p: PersonView) => {
  const body = personJson(p);
  return { body, version: body.version };
};

async function known(services: AdminServices, id: string): Promise<PersonView> {
  const p = await services.people.find(id);
  if (!p) throw new AdminError('not_found', 'There is no such person.');
  return p;
}

export const peopleOperations: Operation[] = [
  operation(
    {
      id: 'listPeople', method: 'get', path: '/people', tag: 'People', summary: 'List people, by email', scope: 'admin:read', status: 200,
      query: PageQuery.extend({ q: text(200).optional().meta({ description: 'Part of the email or name.' }) }),
      response: pageOf(Person, 'PersonPage'),
    },
    async ({ query, services }) => {
      const page = await services.people.list(query);
      return { body: { items: page.items.map(personJson), next: page.next } };
    },
  ),
  operation(
    {
      id: 'addPerson', method: 'post', path: '/people', tag: 'People', summary: 'Add a local person (a password account): they choose their password through the invitation link', scope: 'admin:write', status: 201,
      body: z
        .object({
          email: text(254),
          name: text(200).optional(),
          admin: z.boolean().default(false).meta({ description: 'Set the administrator mark of their password account.' }),
          password: z.string().min(1).max(1024).optional().meta({ description: 'Their password, for automation (write-only: never answered). Omitted (the usual way): an invitation link is answered.' }),
        })
        .strict(),
      response: z
        .object({ person: Person, invitation: Link.optional().meta({ description: 'When no password was given: the invitation link (7 days), answered once.' }) })
        .meta({ id: 'AddedPerson' }),
    },
    async ({ body, actor, services }) => {
      const added = await services.people.addLocal(actor, { email: body.email, name: body.name, admin: body.admin, password: body.password });
      const { body: person, version } = shown(added.person);
      return { body: { person, ...(added.invitation ? { invitation: linkJson(added.invitation) } : {}) }, version };
    },
  ),
  operation(
    { id: 'getPerson', method: 'get', path: '/people/{id}', tag: 'People', summary: 'Get a person', scope: 'admin:read', status: 200, params: PersonId, response: Person, versioned: true },
    async ({ params, services }) => shown(await known(services, params.id)),
  ),
  operation(
    {
      id: 'disablePerson', method: 'post', path: '/people/{id}/disable', tag: 'People', summary: 'Disable a person: sign-ins and refreshes refused, every grant revoked, console sessions ended', scope: 'admin:write', status: 200,
      params: PersonId, response: z.object({ person: Person, grants_revoked: z.number().int() }).meta({ id: 'DisabledPerson' }),
    },
    async ({ params, actor, services }) => {
      const { person, grantsRevoked } = await services.people.disable(actor, params.id);
      return { body: { person: personJson(person), grants_revoked: grantsRevoked } };
    },
  ),
  ...([
    ['enable', 'enablePerson', 'enable', 'Let a disabled person sign in again'],
    ['make-admin', 'makeAdminPerson', 'makeAdmin', 'Set the administrator mark of a person\'s password account'],
    ['unmake-admin', 'unmakeAdminPerson', 'unmakeAdmin', 'Clear the administrator mark (never the last administrator\'s)'],
  ] as const).map(([path, id, action, summary]) =>
    operation(
      { id, method: 'post', path: `/people/{id}/${path}`, tag: 'People', summary, scope: 'admin:write', status: 200, params: PersonId, response: Person },
      async ({ params, actor, services }) => ({ body: personJson(await services.people[action](actor, params.id)) }),
    ),
  ),
  operation(
    {
      id: 'revokePersonGrants', method: 'post', path: '/people/{id}/revoke-grants', tag: 'People', summary: 'Revoke every grant of a person: their refresh tokens stop at once', scope: 'admin:write', status: 200,
      params: PersonId, response: z.object({ person: Person, grants_revoked: z.number().int(), grant_ids: z.array(z.string()) }).meta({ id: 'RevokedPersonGrants' }),
    },
    async ({ params, actor, services }) => {
      const { person, grantIds } = await services.people.revokeGrants(actor, params.id);
      return { body: { person: personJson(person), grants_revoked: grantIds.length, grant_ids: grantIds } };
    },
  ),
  operation(
    {
      id: 'resetPersonPassword', method: 'post', path: '/people/{id}/reset-password', tag: 'People',
      summary: 'A one-time link where a local person sets a new password (1 hour; a new invitation for someone who never set one). 409 for a person without a password account', scope: 'admin:write', status: 200,
      params: PersonId, response: z.object({ person: Person, link: Link }).meta({ id: 'PersonPasswordLink' }),
    },
    async ({ params, actor, services }) => {
      const { person, link } = await services.people.resetPassword(actor, params.id);
      return { body: { person: personJson(person), link: linkJson(link) } };
    },
  ),
  operation(
    {
      id: 'listPersonSessions', method: 'get', path: '/people/{id}/sessions', tag: 'People', summary: 'A person\'s live sessions, newest first: console, account pages, browser sign-ins', scope: 'admin:read', status: 200,
      params: PersonId, response: z.object({ items: z.array(Session) }).meta({ id: 'PersonSessions' }),
    },
    async ({ params, services }) => ({ body: { items: (await services.people.sessions(params.id)).map(sessionJson) } }),
  ),
  operation(
    {
      id: 'endPersonSessions', method: 'post', path: '/people/{id}/end-sessions', tag: 'People', summary: 'End every session of a person (they sign in again); their grants stay', scope: 'admin:write', status: 200,
      params: PersonId,
      response: z.object({ person: Person, sessions_ended: z.object({ console: z.number().int(), account: z.number().int(), sign_in: z.number().int() }) }).meta({ id: 'EndedPersonSessions' }),
    },
    async ({ params, actor, services }) => {
      const { person, ended } = await services.people.endSessions(actor, params.id);
      return { body: { person: personJson(person), sessions_ended: ended } };
    },
  ),
  operation(
    { id: 'listPersonGrants', method: 'get', path: '/people/{id}/grants', tag: 'Grants', summary: 'A person\'s live grants, newest first', scope: 'admin:read', status: 200, params: PersonId, query: PageQuery, response: GrantPage },
    async ({ params, query, services }) => {
      const person = await known(services, params.id);
      const page = await services.grants.ofPerson(person.id, query);
      return { body: { items: page.items.map(grantJson), next: page.next } };
    },
  ),
];
