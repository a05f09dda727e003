// The client a sign-in under way belongs to, read from its interaction (oidc-provider's Interaction model, found by
// the uid the edge resolved from the path: /interaction/<uid>/… or the resume /authorize/<uid>). Rules that must
// hold on every step of a sign-in, not only at its start, ask this (policies/request/client-approval.ts).
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { routeOf } from '../http/route-resolution.js';

export function interactionClientId(provider: () => Provider): (ctx: Context) => Promise<string | undefined> {
  return async (ctx) => {
    const uid = routeOf(ctx)?.params.uid;
    if (!uid) return undefined;
    const interaction = await provider().Interaction.find(uid);
    const clientId = interaction?.params?.client_id;
    return typeof clientId === 'string' ? clientId : undefined;
  };
}
