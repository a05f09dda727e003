// Server-rendered pages with eta, which HTML-escapes every `<%= %>` interpolation by default: no hand-written
// escaping anywhere (DESIGN.md §2).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

export const VIEWS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'views');

export class Views {
  readonly #eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true, autoTrim: false });

  render(name: string, data: Record<string, unknown>): string {
    return this.#eta.render(name, data);
  }
}
