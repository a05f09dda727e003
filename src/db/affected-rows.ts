// How many rows a raw UPDATE or DELETE touched. Raw statements, because knex on PGlite hands back the driver's
// result rather than the count: `rowCount` from pg and PGlite's query results, `affectedRows` from PGlite's exec.
export function affectedRows(result: unknown): number {
  const r = result as { rowCount?: number | null; affectedRows?: number | null };
  return Number(r.rowCount ?? r.affectedRows ?? 0);
}
