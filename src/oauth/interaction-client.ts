// The client of the sign-in under way that a step acts on: rules that must hold on every step of a sign-in, not only
// at its start, ask this (policies/request/client-approval.ts).
//
// Which interaction: the one the step acts on. An /interaction/<uid> page acts on the interaction of the path (its
// handler refuses a cookie naming another one: interaction/pages.ts). The resume at /authorize/<uid> acts on the
// interaction its signed resume cookie names, whatever the path says — oidc-provider does not compare the two — so
// that is the one asked about; otherwise a path naming another interaction, or none, would pass the gate while the
// cookie's interaction of a disabled client got its code (docs/SECURITY.md, "Issue 22").
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { routeOf } from '../http/route-resolution.js';

export function interactionClientId(provider: () => Provider): (ctx: Context) => Promise<string | undefined> {
  return async (ctx) => {
    const route = routeOf(ctx);
    const current = provider();
    const uid = route?.id === 'resume' ? ctx.cookies.get(current.cookieName('resume'), { signed: true }) : route?.params.uid;
    if (!uid) return undefined;
    const clientId = (await current.Interaction.find(uid))?.params?.client_id;
    return typeof clientId === 'string' ? clientId : undefined;
  };
}
