// Gatehouse's version, read from its package.json wherever the code runs from (src/ under tsx, dist/server/ in a
// build or the Docker image): the CLI's --version and the admin API's OpenAPI document say the same.
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached) return cached;
  for (const up of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'gatehouse' && pkg.version) return (cached = pkg.version);
    } catch {
      // not there: one level further up
    }
  }
  return (cached = '0.0.0');
}
