// Server-rendered pages with eta, which HTML-escapes every `<%= %>` interpolation by default: no hand-written
// escaping anywhere (DESIGN.md §2). Every page gets `base`, ISSUER's path ('' at the root), so the layout's links
// and the forms stay under the issuer (http/issuer-path.ts).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

export const VIEWS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'views');

export class Views {
  readonly #eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true, autoTrim: false });

  /** `base`: ISSUER's path without a trailing slash (`issuerBase`), '' for an issuer at the root of its host. */
  constructor(readonly base = '') {}

  render(name: string, data: Record<string, unknown>): string {
    return this.#eta.render(name, { ...data, base: this.base });
  }
}
