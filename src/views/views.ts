// Server-rendered pages with eta, which HTML-escapes every `<%= %>` interpolation by default: no hand-written
// escaping anywhere. Every page gets `base`, ISSUER's path ('' at the root), so the layout's links
// and the forms stay under the issuer (http/issuer-path.ts).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

/** The package's views/ folder: the nearest one above this module, whether it runs from src/ or a build. */
function findViews(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'views', 'layout.eta'))) return join(dir, 'views');
    if (dirname(dir) === dir) throw new Error('views/ not found above the server modules');
  }
}

export const VIEWS_DIR = findViews();

export class Views {
  readonly #eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true, autoTrim: false });

  /** `base`: ISSUER's path without a trailing slash (`issuerBase`), '' for an issuer at the root of its host. */
  constructor(readonly base = '') {}

  render(name: string, data: Record<string, unknown>): string {
    return this.#eta.render(name, { ...data, base: this.base });
  }
}
