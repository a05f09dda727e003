// Group commit for the audit log (src/db/insert-batch.ts): callers wait for their own row's commit, rows written
// during an INSERT go together in the next one, and one bad row never takes the others with it.
import { InsertBatch } from '../../src/db/insert-batch.js';

function recorder(behaviour: (rows: number[]) => Promise<void> = async () => {}) {
  const calls: number[][] = [];
  const committed: number[] = [];
  const failures: number[][] = [];
  const batch = new InsertBatch<number>(
    async (rows) => {
      calls.push([...rows]);
      await behaviour(rows);
      committed.push(...rows);
    },
    (_err, rows) => failures.push(rows),
  );
  return { batch, calls, committed, failures };
}

/** Resolves once the recorder has been asked for its first INSERT (a sleep would race a loaded machine's loop). */
async function inFlight(calls: number[][]): Promise<void> {
  while (!calls.length) await new Promise((r) => setImmediate(r));
}

describe('InsertBatch', () => {
  it('answers a caller only after its row is committed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { batch, committed } = recorder(() => gate);
    let answered = false;
    const pending = batch.add(1).then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(false);
    expect(committed).toEqual([]);
    release();
    await pending;
    expect(committed).toEqual([1]);
  });

  it('writes the rows that arrive during an INSERT together in the next one', async () => {
    const { batch, calls, committed } = recorder(() => new Promise((r) => setTimeout(r, 20)));
    const first = batch.add(0);
    await inFlight(calls);
    await Promise.all([first, ...Array.from({ length: 30 }, (_, i) => batch.add(i + 1))]);
    expect(calls).toEqual([[0], Array.from({ length: 30 }, (_, i) => i + 1)]);
    expect(committed).toHaveLength(31);
  });

  it('retries a refused batch row by row, so one bad row loses only itself', async () => {
    const { batch, committed, failures } = recorder(async (rows) => {
      if (rows.includes(13)) throw new Error('invalid byte sequence');
    });
    await Promise.all([12, 13, 14].map((n) => batch.add(n)));
    expect(committed.sort()).toEqual([12, 14]);
    expect(failures).toEqual([[13]]);
  });

  it('does not retry row by row while the database is unreachable (each retry would wait for its own timeout)', async () => {
    const { batch, calls, failures } = recorder(async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    });
    await Promise.all([1, 2, 3].map((n) => batch.add(n)));
    expect(calls).toEqual([[1, 2, 3]]);
    expect(failures).toEqual([[1, 2, 3]]);
  });

  it('caps a batch at its row limit', async () => {
    const calls: number[] = [];
    const batch = new InsertBatch<number>(async (rows) => void calls.push(rows.length), () => {}, 10);
    await Promise.all(Array.from({ length: 25 }, (_, i) => batch.add(i)));
    expect(calls).toEqual([10, 10, 5]);
  });

  it('with the database away, rows queued behind the failing INSERT are reported with it, not sent again', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const { batch, calls, failures } = recorder(() => new Promise((_, reject) => setTimeout(() => reject(refused), 20)));
    const first = batch.add(0);
    await inFlight(calls);
    await Promise.all([first, ...Array.from({ length: 5 }, (_, i) => batch.add(i + 1))]);
    // One INSERT was tried; the five rows behind it did not each wait out a timeout of their own.
    expect(calls).toEqual([[0]]);
    expect(failures).toEqual([[0], [1, 2, 3, 4, 5]]);
    // And once the database is back, a new row goes through.
    const { batch: next, committed } = recorder();
    await next.add(7);
    expect(committed).toEqual([7]);
  });
});
