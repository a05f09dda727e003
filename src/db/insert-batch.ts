// Group commit for append-only rows (the audit log). Every caller still waits until its own row is committed, so a
// request is answered only after its audit event is durable; but rows written while an INSERT is in flight wait
// for it and then go together in one multi-row INSERT. Under load that turns one round trip (and one commit) per
// row into one per batch; with no load a row goes alone at once (one event-loop turn, no timer).
import { isDatabaseUnavailable } from './unavailable.js';

export class InsertBatch<Row> {
  #queued: Array<{ row: Row; done: () => void }> = [];
  #flushing = false;

  constructor(
    private readonly insert: (rows: Row[]) => Promise<unknown>,
    private readonly onFailure: (err: unknown, rows: Row[]) => void,
    private readonly maxRows = 200,
  ) {}

  /** Resolves once the row is committed, or once its failure has been reported; never rejects. */
  add(row: Row): Promise<void> {
    return new Promise<void>((done) => {
      this.#queued.push({ row, done });
      if (!this.#flushing) {
        this.#flushing = true;
        // Let the rows of this turn of the event loop join the first INSERT.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queued.length) {
      const batch = this.#queued.splice(0, this.maxRows);
      const failure = await this.#write(batch.map((b) => b.row));
      for (const b of batch) b.done();
      // The database is away: rows that queued behind this INSERT would each wait out a timeout of their own in
      // turn, holding their requests for several; they are reported with it instead.
      if (failure !== undefined && isDatabaseUnavailable(failure)) {
        const behind = this.#queued.splice(0);
        if (behind.length) this.onFailure(failure, behind.map((b) => b.row));
        for (const b of behind) b.done();
      }
    }
    this.#flushing = false;
  }

  /** Writes the rows (one by one if the batch is refused); returns the error if the database was unreachable. */
  async #write(rows: Row[]): Promise<unknown> {
    try {
      await this.insert(rows);
    } catch (err) {
      // With the database away every retry would fail too, after its own timeout: report the batch and move on.
      if (isDatabaseUnavailable(err)) {
        this.onFailure(err, rows);
        return err;
      }
      if (rows.length === 1) return this.onFailure(err, rows);
      // One row the database refuses must not take the others with it: retry them one by one.
      for (const row of rows) {
        try {
          await this.insert([row]);
        } catch (rowErr) {
          this.onFailure(rowErr, [row]);
        }
      }
    }
  }
}
