// The admin API's people (docs/ADMIN-API.md, "People"): everyone with an account, searched and paged; a local person
// added with a password; accounts disabled and enabled; the local administrator mark set and cleared; a person's
// grants listed and revoked. Each change is one call of admin/people.ts, which checks, changes and audits. A
// password is write-only: one given is never answered, one generated (none given) is answered once and is in no
// audit event (admin/people.ts addLocal). The actions take no version (If-Match is refused): each is a transition
// the service refuses with 409 when it does not apply (disabling a disabled person), so a retry never doubles it.
import { z } from 'zod';
import type { AdminServices } from '../../admin/index.js';
import type { Person as PersonView } from '../../admin/people.js';
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
    version: z.string(),
  })
  .meta({ id: 'Person' });

const PersonId = z.object({ id: z.string().min(1).max(200).meta({ description: 'The account id.' }) });

export function personJson(p: PersonView) {
  const view = {
    id: p.id, email: p.email, email_verified: p.emailVerified, name: p.name, groups: p.groups, admin: p.admin, local_admin: p.localAdmin,
    disabled: p.disabled, last_login_at: p.lastLoginAt?.toISOString() ?? null, connections: p.connections,
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
      id: 'addPerson', method: 'post', path: '/people', tag: 'People', summary: 'Add a local person (a password account)', scope: 'admin:write', status: 201,
      body: z
        .object({
          email: text(254),
          name: text(200).optional(),
          admin: z.boolean().default(false).meta({ description: 'Set the administrator mark of their password account.' }),
          password: z.string().min(1).max(1024).optional().meta({ description: 'Their password (write-only: never answered). Omitted: one is generated and answered once.' }),
        })
        .strict(),
      response: z
        .object({ person: Person, password: z.string().optional().meta({ description: 'The generated password, when none was given: shown once, never stored readable.' }) })
        .meta({ id: 'AddedPerson' }),
    },
    async ({ body, actor, services }) => {
      const added = await services.people.addLocal(actor, { email: body.email, name: body.name, admin: body.admin, password: body.password });
      const { body: person, version } = shown(added.person);
      return { body: { person, ...(added.password !== undefined ? { password: added.password } : {}) }, version };
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
    { id: 'listPersonGrants', method: 'get', path: '/people/{id}/grants', tag: 'Grants', summary: 'A person\'s live grants, newest first', scope: 'admin:read', status: 200, params: PersonId, query: PageQuery, response: GrantPage },
    async ({ params, query, services }) => {
      const person = await known(services, params.id);
      const page = await services.grants.ofPerson(person.id, query);
      return { body: { items: page.items.map(grantJson), next: page.next } };
    },
  ),
];
