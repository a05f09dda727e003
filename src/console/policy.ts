// Console: policy. The settings an admin may override (policy/settings.ts): the registration mode, the CIMD host
// lists, and who may sign in. Each shows the value in force beside the environment's, and can be set (parsed
// exactly as the environment variable is) or handed back to the environment. A change holds on every instance
// within a few seconds. ADMIN_EMAILS and ADMIN_GROUPS stay environment-only: whoever can edit them here could take
// the console away from every other admin, or from themselves with no way back. Changes go through the admin
// service layer (admin/policy.ts; docs/ARCHITECTURE.md, "The admin service layer"), which also refuses a value that
// would lock the admin saving it out, and audits; a setting the configuration file manages shows whose it is.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { PolicySettingName } from '../config.js';
import { personActor } from '../admin/actor.js';
import { AdminError } from '../admin/admin-error.js';
import { PolicyAdmin } from '../admin/policy.js';
import { requestOrigin } from '../audit/writer.js';
import { isPolicySetting, type PolicyEntry } from '../policy/settings.js';
import type { ConsoleDeps } from './deps.js';
import { inLane } from '../admin/serialized.js';
import { consoleState } from './guard.js';

interface About {
  summary: string;
  /** What an empty list means (lists only). */
  empty?: string;
}

const ABOUT: Record<PolicySettingName, About> = {
  REGISTRATION: { summary: 'Who may register a client at /register (Dynamic Client Registration).' },
  CIMD_ALLOWED_DOMAINS: {
    summary: 'Hosts whose metadata-document URLs are accepted as client_id: exact hosts, or *.example.com for its subdomains.',
    empty: 'any public host',
  },
  CIMD_BLOCKED_DOMAINS: {
    summary: 'Hosts whose metadata-document URLs are always refused, even when allowed above and even for clients already seen.',
    empty: 'none',
  },
  ALLOWED_EMAIL_DOMAINS: { summary: 'Who may sign in at all, by the domain of an email address their identity provider verified.', empty: 'any domain' },
  ALLOWED_GROUPS: { summary: 'Who may sign in at all, by a group their identity provider lists for them.', empty: 'any group' },
};

const REGISTRATION_MODES = [
  { value: 'open', label: 'open — anyone may register' },
  { value: 'approval', label: 'approval — new clients wait until an admin approves them' },
  { value: 'closed', label: 'closed — registering needs an initial access token (gatehouse registration-token create)' },
] as const;

const shown = (name: PolicySettingName, value: unknown): string => {
  if (!Array.isArray(value)) return String(value);
  return value.length ? value.join(', ') : `(empty: ${ABOUT[name].empty ?? 'none'})`;
};
const asInput = (value: unknown): string => (Array.isArray(value) ? value.join(', ') : String(value));

export function policyPages(deps: ConsoleDeps): Router {
  const router = consoleRouter();
  const { pages } = deps;
  const admin = inLane(new PolicyAdmin(deps), deps);
  const actorOf = (ctx: Context) => personActor(consoleState(ctx).account, requestOrigin(ctx));

  /**
   * The page; after a refused change, that setting shows the submitted text and the problem next to its field. Each
   * form posts to its setting's anchor (#setting-NAME), which the refusal's page and the redirect after a save both
   * land on (a 303 keeps the fragment), so the problem or the notice is where the admin is looking, not at the top
   * of a long page (the notice is then shown beside the setting, `?saved=NAME`).
   */
  async function show(ctx: Context, refused?: { name: PolicySettingName; raw: string; problem: string }, status = 400): Promise<void> {
    const savedName = typeof ctx.query.saved === 'string' && isPolicySetting(ctx.query.saved) ? ctx.query.saved : undefined;
    const entries = await admin.entries();
    const settings = entries.map((e: PolicyEntry) => ({
      name: e.name,
      summary: ABOUT[e.name].summary,
      mode: e.name === 'REGISTRATION',
      effective: shown(e.name, e.effective),
      environment: shown(e.name, e.environment),
      overridden: e.overridden,
      updatedBy: e.updatedBy,
      updatedAt: e.updatedAt?.toISOString(),
      input: refused?.name === e.name ? refused.raw : asInput(e.effective),
      problem: refused?.name === e.name ? refused.problem : undefined,
      managedBy: e.managedBy,
      version: admin.version(e),
      saved: !refused && savedName === e.name,
    }));
    pages.render(
      ctx,
      'policy',
      'policy',
      { title: 'Policy', settings, noticeInline: !refused && !!savedName, modes: REGISTRATION_MODES, adminEmails: deps.config.ADMIN_EMAILS.join(', '), adminGroups: deps.config.ADMIN_GROUPS.join(', ') },
      refused ? status : 200,
    );
  }

  const settingOf = (ctx: Context): PolicySettingName => {
    const name = String(ctx.params.name);
    if (!isPolicySetting(name)) ctx.throw(404, 'no such policy setting');
    return name;
  };

  router.get('/console/policy', (ctx) => show(ctx));

  const savedAt = (name: PolicySettingName) => `/policy?saved=${name}#setting-${name}`;

  // The version the page was read at (a hidden field): a change made meanwhile is not silently overwritten.
  const versionOf = (ctx: Context) => consoleState(ctx).form.version || undefined;

  router.post('/console/policy/:name', async (ctx) => {
    const name = settingOf(ctx);
    const raw = consoleState(ctx).form.value ?? '';
    try {
      const saved = await admin.set(actorOf(ctx), name, raw, versionOf(ctx));
      pages.redirect(ctx, savedAt(name), `${name} is now ${shown(name, saved.effective)} (every instance within a few seconds).`);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      await show(ctx, { name, raw, problem: err.message }, err.status);
    }
  });

  router.post('/console/policy/:name/reset', async (ctx) => {
    const name = settingOf(ctx);
    try {
      const saved = await admin.reset(actorOf(ctx), name, versionOf(ctx));
      pages.redirect(ctx, savedAt(name), `${name} now follows the environment: ${shown(name, saved.environment)}.`);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      await show(ctx, { name, raw: asInput((await admin.entry(name)).effective), problem: err.message }, err.status);
    }
  });

  return router;
}
