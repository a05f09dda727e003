// The declarative configuration file's format (docs/CONFIG-FILE.md): MCP servers, static clients, connections and
// policy settings. Strict everywhere: an unknown key is a mistake (a misspelt `redirect_uri` must not silently
// leave a client without its redirect URIs). MCP servers reuse the RESOURCES schema of config.ts, so the file and
// the environment variable accept exactly the same entries.
import { z } from 'zod';
import { POLICY_SETTINGS, resourceSeed } from '../../config.js';
import { CONNECTION_KINDS } from '../../upstream/connection.js';

/** Where a secret comes from: never the file itself (docs/CONFIG-FILE.md, "Secrets"). */
export type SecretRef = { env: string } | { file: string };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

// Written by hand rather than as a z.union: the refusal of an inline secret must say what to write instead, and a
// union's "no variant matched" would not.
export const secretRef = z.unknown().transform((value, ctx): SecretRef => {
  if (typeof value === 'string' || typeof value === 'number') {
    ctx.addIssue({ code: 'custom', message: 'a secret is never written in the file: give {env: VARIABLE} or {file: path} instead' });
    return z.NEVER;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'must be {env: VARIABLE} or {file: path}' });
    return z.NEVER;
  }
  const keys = Object.keys(value);
  const v = value as Record<string, unknown>;
  if (keys.length === 1 && keys[0] === 'env' && typeof v.env === 'string' && ENV_NAME.test(v.env)) return { env: v.env };
  if (keys.length === 1 && keys[0] === 'file' && typeof v.file === 'string' && v.file.length > 0) return { file: v.file };
  ctx.addIssue({ code: 'custom', message: 'must be exactly one of {env: VARIABLE} (a variable name) or {file: path}' });
  return z.NEVER;
});

// As static-clients.ts accepts a fixed client id: no URL (a CIMD id), not the dynamic prefix.
const clientId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._~-]{2,99}$/, 'must be 3 to 100 letters, digits or . _ ~ - (a stable id of your choosing)')
  .refine((id) => !id.startsWith('dyn_'), 'must not start with dyn_ (the prefix of dynamically registered clients)');

export const clientEntry = z
  .object({
    client_id: clientId,
    name: z.string().trim().min(1, 'must not be empty').max(200),
    redirect_uris: z.array(z.string().min(1)).max(20).default([]),
    confidential: z.boolean().default(false),
    scope: z.string().trim().min(1).max(1000).optional(),
    resource: z.string().url('must be an absolute URL').optional(),
    secret: secretRef.optional(),
    // A client of the admin API (docs/ADMIN-API.md): the admin scopes it may obtain with client_credentials.
    admin_api: z
      .string()
      .trim()
      .refine((v) => v.split(/\s+/).every((s) => s === 'admin:read' || s === 'admin:write'), 'must list admin:read and/or admin:write, space-separated')
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.admin_api && (!c.confidential || c.redirect_uris.length || c.resource)) {
      ctx.addIssue({ code: 'custom', path: ['admin_api'], message: 'an admin API client is confidential, with no redirect URIs and no resource' });
    }
    if (c.confidential && !c.secret) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a confidential client needs secret: {env: VARIABLE} or {file: path}' });
    if (!c.confidential && c.secret) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'only a confidential client has a secret (confidential: true)' });
    if (!c.confidential && c.redirect_uris.length === 0) ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'a public client needs at least one redirect URI' });
  });
export type ClientEntry = z.infer<typeof clientEntry>;

const names = z.array(z.string().trim().min(1).max(253)).max(500);

export const connectionEntry = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be 1-40 lower-case letters, digits or dashes'),
    name: z.string().trim().min(1).max(60).optional(),
    kind: z.enum(CONNECTION_KINDS, { error: `must be one of ${CONNECTION_KINDS.join(', ')}` }),
    issuer: z.string().min(1).optional(),
    client_id: z.string().min(1).max(500).optional(),
    client_secret: secretRef.optional(),
    scopes: names.default([]),
    tenant: z.string().min(1).max(253).optional(),
    allowed_tenants: names.default([]),
    hosted_domains: names.transform((l) => l.map((d) => d.toLowerCase())).default([]),
    groups_claim: z.string().min(1).optional(),
    orgs: names.default([]),
    store_tokens: z.boolean().default(false),
    allow_private_network: z.boolean().default(false),
    // Identity assertions (docs/ENTERPRISE-MANAGED-AUTHORIZATION.md): oidc, okta, entra and google only.
    id_jag: z.boolean().default(false),
    id_jag_resource: z.string().min(1).max(2000).optional(),
  })
  .strict();
export type ConnectionEntry = z.infer<typeof connectionEntry>;

// A policy value as the environment variable is written ("a,b" or "approval"), or a list for the list settings.
const policyValue = z.union([z.string(), z.array(z.string().min(1)).max(10_000)], { error: 'must be a string or a list of strings' });

export const policyEntries = z
  .object(Object.fromEntries(POLICY_SETTINGS.map((name) => [name, policyValue.optional()])) as Record<(typeof POLICY_SETTINGS)[number], z.ZodOptional<typeof policyValue>>)
  .strict();

export const configFileSchema = z
  .object({
    mcp_servers: z.array(resourceSeed).max(1000).default([]),
    clients: z.array(clientEntry).max(1000).default([]),
    connections: z.array(connectionEntry).max(100).default([]),
    policy: policyEntries.default({}),
  })
  .strict();
export type ConfigFileContent = z.infer<typeof configFileSchema>;
