// The admin API's policy settings (docs/ADMIN-API.md, "Policy"): the settings stored in the database over the
// environment (REGISTRATION, the CIMD allow and block lists, ALLOWED_EMAIL_DOMAINS, ALLOWED_GROUPS). A value is
// written as its environment variable would be, or as a list; admin/policy.ts parses it exactly as the environment
// is, refuses a person's self-lockout, and audits.
import { z } from 'zod';
import type { AdminServices } from '../../admin/index.js';
import { policyView } from '../../admin/policy.js';
import { POLICY_SETTINGS } from '../../config.js';
import type { PolicyEntry } from '../../policy/settings.js';
import { operation, type Operation } from '../operation.js';
import { text, Version } from '../schemas.js';

const Value = z.union([z.string(), z.array(z.string())]);

export const PolicySetting = z
  .object({
    name: z.enum(POLICY_SETTINGS),
    effective: Value.meta({ description: 'The value in force: REGISTRATION a mode, the others lists.' }),
    environment: Value.meta({ description: 'The environment\'s value, in force when nothing is stored.' }),
    overridden: z.boolean(),
    updated_by: z.string().nullable(),
    updated_at: z.string().nullable(),
    managed_by: z.string().nullable().meta({ description: 'The configuration file that manages it; only that file changes it.' }),
    version: z.string(),
  })
  .meta({ id: 'PolicySetting' });

// Not an enum: a name that is not a policy setting (ADMIN_EMAILS) is a 404 from the service, not a 400.
const Name = z.object({ name: z.string().min(1).max(100).meta({ description: `One of ${POLICY_SETTINGS.join(', ')}.` }) });

const SetValue = z
  .object({
    value: z
      .union([
        text(20_000),
        // A list is joined as the environment variable's comma-separated value, so an item holds no comma.
        z.array(text(1000).refine((v) => !v.includes(','), 'an item must not contain a comma')).max(1000),
      ])
      .meta({ description: 'As the environment variable is written ("" for an empty list), or a list.' }),
    version: Version.optional(),
  })
  .strict()
  .meta({ id: 'PolicyValue' });

function shown(services: AdminServices, e: PolicyEntry) {
  const version = services.policy.version(e);
  return { body: { ...policyView(e), version }, version };
}

export const policyOperations: Operation[] = [
  operation(
    {
      id: 'listPolicySettings', method: 'get', path: '/policy', tag: 'Policy', summary: 'Every policy setting: the value in force, the environment\'s, who overrode it', scope: 'admin:read', status: 200,
      response: z.object({ items: z.array(PolicySetting) }).meta({ id: 'PolicySettings' }),
    },
    async ({ services }) => ({ body: { items: (await services.policy.entries()).map((e) => shown(services, e).body) } }),
  ),
  operation(
    { id: 'getPolicySetting', method: 'get', path: '/policy/{name}', tag: 'Policy', summary: 'One policy setting', scope: 'admin:read', status: 200, params: Name, response: PolicySetting, versioned: true },
    async ({ params, services }) => shown(services, await services.policy.entry(params.name)),
  ),
  operation(
    {
      id: 'setPolicySetting', method: 'put', path: '/policy/{name}', tag: 'Policy', summary: 'Override a setting (every instance within a few seconds)', scope: 'admin:write', status: 200,
      params: Name, body: SetValue, response: PolicySetting, versioned: true,
    },
    async ({ params, body, actor, services, expectedVersion }) => {
      const raw = Array.isArray(body.value) ? body.value.join(',') : body.value;
      return shown(services, await services.policy.set(actor, params.name, raw, expectedVersion));
    },
  ),
  operation(
    { id: 'resetPolicySetting', method: 'delete', path: '/policy/{name}', tag: 'Policy', summary: 'Hand a setting back to the environment', scope: 'admin:write', status: 200, params: Name, response: PolicySetting, versioned: true },
    async ({ params, actor, services, expectedVersion }) => shown(services, await services.policy.reset(actor, params.name, expectedVersion)),
  ),
];
