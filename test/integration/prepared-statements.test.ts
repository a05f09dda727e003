// Named prepared statements on PostgreSQL (src/db/prepared-statements.ts): a repeated parameterised statement is
// prepared once per connection; a plan a schema change invalidated (0A000) is retried unnamed outside a transaction
// and fails the transaction inside one; a statement missing on the backend (a pooler in transaction mode) turns
// naming off; statements that vary with their input are never named, so what each backend
// keeps stays bounded. The embedded database (PGlite) has no pooled pg connections: there the naming is not used.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openDatabase, type DbHandle } from '../../src/db/connection.js';
import { statementName } from '../../src/db/prepared-statements.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

describe('statement names', () => {
  it('names a parameterised text the same way every time, and never one without or with too many parameters', () => {
    const a = statementName('select $1::int as probe_a', 1);
    expect(a).toMatch(/^gh_[\w-]{22}$/);
    expect(statementName('select $1::int as probe_a', 1)).toBe(a);
    expect(statementName('select $1::int as probe_b', 1)).not.toBe(a);
    expect(statementName('select 1 as probe_c', 0)).toBeUndefined();
    expect(statementName('insert into t values ' + Array.from({ length: 65 }, (_, i) => `($${i + 1})`).join(','), 65)).toBeUndefined();
  });
});

if (process.env.TEST_DATABASE_URL) {
  describe('named prepared statements on PostgreSQL', () => {
    let tdb: TestDatabase;
    let handle: DbHandle;
    beforeAll(async () => {
      tdb = await createTestDatabase();
      // One pooled connection, so every statement below runs on the backend the assertions look at.
      handle = await openDatabase({ databaseUrl: tdb.env.DATABASE_URL!, dataDir: tdb.dataDir, poolMax: 1 });
      await handle.db.raw('create table probe (id int primary key, label text)');
      await handle.db('probe').insert([{ id: 1, label: 'one' }, { id: 2, label: 'two' }]);
    });
    afterAll(async () => {
      await handle?.close();
      await tdb?.drop();
    });

    const prepared = async () =>
      ((await handle.db.raw(`select name, statement from pg_prepared_statements where name like 'gh\\_%'`)) as { rows: Array<{ name: string; statement: string }> }).rows;

    it('prepares a repeated statement once on the connection and reuses it', async () => {
      for (const id of [1, 2, 1]) expect((await handle.db('probe').where({ id }).first())?.label).toBe(id === 1 ? 'one' : 'two');
      const mine = (await prepared()).filter((p) => p.statement.includes('"probe"') && p.statement.includes('where "id"'));
      expect(mine).toHaveLength(1);
    });

    it('a plan a schema change invalidated is retried unnamed outside a transaction, then the text stays unnamed', async () => {
      const select = () => handle.db('probe').select('*').where({ id: 1 }).first();
      expect(await select()).toEqual({ id: 1, label: 'one' });
      await handle.db.raw('alter table probe add column note text');
      // The cached plan's result type changed (0A000): answered anyway, through an unnamed retry.
      expect(await select()).toEqual({ id: 1, label: 'one', note: null });
      await handle.db.raw('alter table probe add column extra int');
      expect(await select()).toEqual({ id: 1, label: 'one', note: null, extra: null });
    });

    it('inside a transaction the same failure fails the unit of work, with nothing half-written', async () => {
      const lookup = (db: typeof handle.db) => db('probe').select('*').where({ id: 2, label: 'two' }).first();
      expect(await lookup(handle.db)).toMatchObject({ id: 2 }); // prepared now
      await handle.db.raw('alter table probe add column third int');
      await expect(
        handle.db.transaction(async (trx) => {
          await trx('probe').insert({ id: 3, label: 'three' });
          await lookup(trx);
        }),
      ).rejects.toMatchObject({ code: '0A000' });
      expect(await handle.db('probe').where({ id: 3 }).first()).toBeUndefined();
      // And the text is sent unnamed from then on.
      expect(await lookup(handle.db)).toMatchObject({ id: 2, third: null });
    });

    // Last: it turns naming off for this process, as it would behind a pooler that hands out other backends.
    it('a statement the backend does not have (a pooler in transaction mode) is answered, and nothing is named after', async () => {
      const find = () => handle.db('probe').select('label').where({ id: 1 }).first();
      expect(await find()).toEqual({ label: 'one' });
      // What a transaction-mode pooler does: the next statement lands on a backend that never saw the Parse.
      await handle.db.raw('deallocate all');
      expect(await find()).toEqual({ label: 'one' }); // 26000, retried unnamed
      await handle.db('probe').select('id').where({ label: 'two' }).first();
      await handle.db('probe').select('id').where({ label: 'two' }).first();
      expect(await prepared()).toEqual([]);
    });
  });
}
