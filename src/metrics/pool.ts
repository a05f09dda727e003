// Database pool usage, read at scrape time from knex's pool (tarn). On PostgreSQL it is the `pg` connection pool
// (max 10 per instance); on the embedded PGlite it is knex-pglite's single connection, where `waiting` shows how
// many queries queue behind it.
import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../db/connection.js';

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
  max: number;
}

export function registerPoolGauges(registry: Registry, db: Db): void {
  // After destroy() knex drops its pool: report nothing rather than throwing at scrape time.
  const pool = () => (db.client as { pool?: TarnPool }).pool;
  const gauge = (name: string, help: string, read: (p: TarnPool) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const p = pool();
        if (p) this.set(read(p));
      },
    });
  gauge('gatehouse_db_pool_total', 'Open database connections (in use + idle).', (p) => p.numUsed() + p.numFree());
  gauge('gatehouse_db_pool_used', 'Database connections running a query or transaction.', (p) => p.numUsed());
  gauge('gatehouse_db_pool_idle', 'Open database connections waiting for work.', (p) => p.numFree());
  gauge('gatehouse_db_pool_waiting', 'Queries waiting for a connection (pool exhausted).', (p) => p.numPendingAcquires());
  gauge('gatehouse_db_pool_pending_creates', 'Connections being opened.', (p) => p.numPendingCreates());
  gauge('gatehouse_db_pool_max', 'The pool size limit.', (p) => p.max);
}
