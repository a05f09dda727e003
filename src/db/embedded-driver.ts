// The embedded database's driver (knex-pglite over @electric-sql/pglite), loaded only when DATABASE_URL is unset.
// Both are optionalDependencies: `npm install` brings them, so a fresh clone runs on the embedded database, while
// the container image installs with --omit=optional and ships without them (README, "Docker"). Nothing else may
// import them statically (test/integration/helm-chart.test.ts checks), so a server on PostgreSQL never loads them.
import type ClientPgLite from 'knex-pglite';

export class EmbeddedDatabaseMissingError extends Error {
  constructor() {
    super(
      'DATABASE_URL: not set, and the embedded database is not installed here (this install omits the optional ' +
        '@electric-sql/pglite and knex-pglite, as the container image does): set DATABASE_URL to a PostgreSQL database',
    );
    this.name = 'EmbeddedDatabaseMissingError';
  }
}

/** knex-pglite's knex client class, or one clear error when the optional packages are not installed. */
export async function loadEmbeddedDriver(): Promise<typeof ClientPgLite> {
  try {
    return (await import('knex-pglite')).default;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new EmbeddedDatabaseMissingError();
    throw err;
  }
}
