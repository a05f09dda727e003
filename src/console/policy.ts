// Console: policy. The settings an admin may override (policy/settings.ts): the registration mode, the CIMD host
// lists, and who may sign in. Each shows the value in force beside the environment's, and can be set (parsed
// exactly as the environment variable is) or handed back to the environment. A change holds on every instance
// within a few seconds. ADMIN_EMAILS and ADMIN_GROUPS stay environment-only: whoever can edit them here could take
// the console away from every other admin, or from themselves with no way back.
import { consoleRouter } from './router.js';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { PolicySettingName } from '../config.js';
import { selfLockout } from '../policy/self-lockout.js';
import { isPolicySetting, PolicyError, type PolicyEntry } from '../policy/settings.js';
import type { ConsoleDeps } from './deps.js';
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
  const { pages, policy } = deps;

  /** The page; after a refused change, that setting shows the submitted text and the problem next to its field. */
  async function show(ctx: Context, refused?: { name: PolicySettingName; raw: string; problem: string }): Promise<void> {
    const entries = await policy.entries();
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
    }));
    pages.render(
      ctx,
      'policy',
      'policy',
      { title: 'Policy', settings, modes: REGISTRATION_MODES, adminEmails: deps.config.ADMIN_EMAILS.join(', '), adminGroups: deps.config.ADMIN_GROUPS.join(', ') },
      refused ? 400 : 200,
    );
  }

  const settingOf = (ctx: Context): PolicySettingName => {
    const name = String(ctx.params.name);
    if (!isPolicySetting(name)) ctx.throw(404, 'no such policy setting');
    return name;
  };

  router.get('/console/policy', (ctx) => show(ctx));

  router.post('/console/policy/:name', async (ctx) => {
    const name = settingOf(ctx);
    const { form, account } = consoleState(ctx);
    const raw = form.value ?? '';
    try {
      const value = policy.parse(name, raw);
      const lockout = selfLockout(account, await policy.effective(), name, value);
      if (lockout) throw new PolicyError(lockout);
      const stored = await policy.set(name, raw, account.email ?? account.id);
      await pages.record(ctx, { type: 'console.policy.updated', outcome: 'success', details: { setting: name, value: stored } });
      pages.redirect(ctx, '/policy', `${name} is now ${shown(name, stored)} (every instance within a few seconds).`);
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      await pages.record(ctx, { type: 'console.policy.updated', outcome: 'failure', reason: err.message, details: { setting: name, value: raw.slice(0, 500) } });
      await show(ctx, { name, raw, problem: err.message });
    }
  });

  router.post('/console/policy/:name/reset', async (ctx) => {
    const name = settingOf(ctx);
    const { account } = consoleState(ctx);
    const environment = deps.config[name];
    // Handing ALLOWED_* back to the environment must not lock the admin out either.
    const lockout = selfLockout(account, await policy.effective(), name, environment);
    if (lockout) {
      await pages.record(ctx, { type: 'console.policy.reset', outcome: 'failure', reason: lockout, details: { setting: name, value: environment } });
      return show(ctx, { name, raw: asInput((await policy.effective())[name]), problem: lockout });
    }
    await policy.reset(name);
    await pages.record(ctx, { type: 'console.policy.reset', outcome: 'success', details: { setting: name, value: environment } });
    pages.redirect(ctx, '/policy', `${name} now follows the environment: ${shown(name, environment)}.`);
  });

  return router;
}
