// Writes that belong together commit together even when some of them are made by code that only knows the shared
// knex instance — oidc-provider saving a Grant through the adapter, the audit writer. `inTransaction` runs a unit of
// work with a transaction bound to the async context; `scoped(db)` hands those writers that transaction while one is
// open, and the instance otherwise. On PGlite (one connection) this is also what keeps a write inside the unit from
// waiting on the connection the transaction holds.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';

const current = new AsyncLocalStorage<Knex.Transaction>();

export function inTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction((trx) => current.run(trx, () => work(trx)));
}

/** The open transaction of this unit of work, or `db` outside one. */
export function scoped(db: Knex): Knex {
  return current.getStore() ?? db;
}

export function transactionOpen(): boolean {
  return current.getStore() !== undefined;
}
