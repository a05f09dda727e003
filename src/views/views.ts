// Server-rendered pages with eta, which HTML-escapes every `<%= %>` interpolation by default: no hand-written
// escaping anywhere. Every page gets `base`, ISSUER's path ('' at the root), so the layout's links
// and the forms stay under the issuer (http/issuer-path.ts).
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import { requestIdOf } from '../request-id.js';

/** The package's views/ folder: the nearest one above this module, whether it runs from src/ or a build. */
function findViews(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'views', 'layout.eta'))) return join(dir, 'views');
    if (dirname(dir) === dir) throw new Error('views/ not found above the server modules');
  }
}

export const VIEWS_DIR = findViews();

export interface ErrorPageData extends Record<string, unknown> {
  title: string;
  /** The error code, kept beside the words (an OAuth error code, or Gatehouse's own). */
  error?: string;
  description?: string;
  /** What the person can do next; the page says to start again from their application when it is absent. */
  next?: string;
  /** oidc-provider's own wording of the error, for the application's developer (folded away). */
  detail?: string;
}

export class Views {
  readonly #eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true, autoTrim: false });

  /** `base`: ISSUER's path without a trailing slash (`issuerBase`), '' for an issuer at the root of its host. */
  constructor(readonly base = '') {}

  render(name: string, data: Record<string, unknown>): string {
    return this.#eta.render(name, { ...data, base: this.base });
  }

  /**
   * A page rendered for a request: it knows the request's id (request-id.ts), which the pages that tell a person a
   * request did not succeed (`error`, `denied`, `pending`) show, for the person to quote to an administrator; the
   * request's log line and audit rows carry the same id.
   */
  page(ctx: { req?: IncomingMessage }, name: string, data: Record<string, unknown>): string {
    return this.render(name, { ...data, requestId: requestIdOf(ctx) });
  }

  /** The error page (views/error.eta). */
  errorPage(ctx: { req?: IncomingMessage }, data: ErrorPageData): string {
    return this.page(ctx, 'error', data);
  }
}
