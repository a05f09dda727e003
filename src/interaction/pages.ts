// What every interaction route shares: rendering a page, and finding the interaction this browser is in. An
// interaction is only ever taken from oidc-provider's interaction cookie, whose path is /interaction/<uid>, and only
// if it is the one the URL names: a link into someone else's interaction does nothing.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import type { Views } from '../views/views.js';

export type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface Pages {
  page(ctx: Context, status: number, view: string, data: Record<string, unknown>): void;
  /** The error page; never a redirect, so nothing reaches a client that did not earn it. */
  refuse(ctx: Context, status: number, title: string, description: string, error?: string): void;
  expired(ctx: Context): void;
  details(ctx: Context): Promise<Details | undefined>;
}

export function interactionPages(views: Views, provider: () => Provider): Pages {
  const page: Pages['page'] = (ctx, status, view, data) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = views.page(ctx, view, data);
  };
  const refuse: Pages['refuse'] = (ctx, status, title, description, error = status === 403 ? 'access_denied' : 'invalid_request') =>
    page(ctx, status, 'error', { title, error, description });
  return {
    page,
    refuse,
    expired: (ctx) =>
      refuse(ctx, 400, 'This sign-in has expired', 'The sign-in session was not found or has expired. Start again from your application.'),
    details: async (ctx) => {
      try {
        const d = await provider().interactionDetails(ctx.req, ctx.res);
        return d.uid === ctx.params.uid ? d : undefined;
      } catch (err) {
        // No interaction for this cookie is an expired sign-in; a database outage is not (503 from the error handler).
        if (isDatabaseUnavailable(err)) throw err;
        return undefined;
      }
    },
  };
}
