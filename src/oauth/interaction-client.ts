// The sign-in under way that a step acts on, and its client: rules that must hold on every step of a sign-in, not
// only at its start, ask this (policies/request/client-approval.ts, policies/request/sign-in-person.ts).
//
// Which interaction: the one the step acts on. An /interaction/<uid> page acts on the interaction of the path (its
// handler refuses a cookie naming another one: interaction/pages.ts). The resume at /authorize/<uid> acts on the
// interaction its signed resume cookie names, whatever the path says — oidc-provider does not compare the two — so
// that is the one asked about; otherwise a path naming another interaction, or none, would pass the gate while the
// cookie's interaction of a disabled client got its code (docs/SECURITY.md, "Issue 22").
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { routeOf } from '../http/route-resolution.js';

/** What the rules read of an interaction. */
export interface StepInteraction {
  params?: Record<string, unknown>;
  session?: { accountId?: string } | undefined;
}

export function stepInteraction(provider: () => Provider): (ctx: Context) => Promise<StepInteraction | undefined> {
  return async (ctx) => {
    const route = routeOf(ctx);
    const current = provider();
    const uid = route?.id === 'resume' ? ctx.cookies.get(current.cookieName('resume'), { signed: true }) : route?.params.uid;
    return uid ? ((await current.Interaction.find(uid)) as StepInteraction | undefined) : undefined;
  };
}

export function interactionClientId(provider: () => Provider): (ctx: Context) => Promise<string | undefined> {
  const interactionOf = stepInteraction(provider);
  return async (ctx) => {
    const clientId = (await interactionOf(ctx))?.params?.client_id;
    return typeof clientId === 'string' ? clientId : undefined;
  };
}
