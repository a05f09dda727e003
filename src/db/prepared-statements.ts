// Gatehouse sends the same few dozen statements over and over (the adapter's lookups, the rotation, the audit
// insert, the rate limiters' upserts). Sent unnamed, PostgreSQL parses and plans each one every time; named, each
// pooled connection parses it once and then only binds and executes it — about a third less server time per
// statement here (docs/PERFORMANCE.md), and a smaller message to send.
//
// Every statement with parameters gets a name derived from its text, up to MAX_NAMED distinct texts per process, so
// what each backend keeps stays bounded (texts that vary with their input, like a multi-row INSERT of n rows, past
// MAX_PARAMETERS, stay unnamed). Should the server refuse a named statement, it is retried once unnamed if no
// transaction could have been aborted by the failure, and:
// - a plan whose result type a migration changed (0A000): that text is sent unnamed from then on;
// - a statement missing on the backend or already there (26000, 42P05): the signs of a connection pooler in
//   transaction mode, which hands each transaction another backend. Nothing is named any more in this process.
import { createHash } from 'node:crypto';

const MAX_NAMED = 400;
const MAX_PARAMETERS = 64;
const PLAN_CHANGED = '0A000';
const POOLER = new Set(['26000', '42P05']);

const names = new Map<string, string | null>();
let naming = true;

/** The name a statement text is prepared under, or undefined to send it unnamed. */
export function statementName(text: string, parameters: number): string | undefined {
  if (!naming) return undefined;
  const known = names.get(text);
  if (known !== undefined) return known ?? undefined;
  if (parameters === 0 || parameters > MAX_PARAMETERS || names.size >= MAX_NAMED) return undefined;
  const name = `gh_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
  names.set(text, name);
  return name;
}

interface QueryConfig {
  text?: unknown;
  name?: unknown;
  values?: unknown;
}
type Callback = (err: (Error & { code?: string }) | null, result?: unknown) => void;
interface PgConnection {
  query(config: unknown, ...rest: unknown[]): unknown;
  getTransactionStatus?(): string | null;
}

/**
 * Makes a pooled pg connection name its parameterised statements (knex's `pool.afterCreate`). Only the form knex
 * uses is touched — `query({ text, values }, callback)`; anything else passes through as it was.
 */
export function namePreparedStatements(connection: PgConnection): void {
  const original = connection.query.bind(connection);
  connection.query = (config: unknown, ...rest: unknown[]) => {
    const callback = rest[0];
    const q = config as QueryConfig | null;
    if (!q || typeof q !== 'object' || typeof q.text !== 'string' || q.name !== undefined || !Array.isArray(q.values) || typeof callback !== 'function' || rest.length !== 1) {
      return original(config, ...rest);
    }
    const text = q.text;
    const name = statementName(text, q.values.length);
    if (!name) return original(config, callback);
    return original({ ...q, name }, ((err, result) => {
      const code = err?.code ?? '';
      if (!err || (code !== PLAN_CHANGED && !POOLER.has(code))) return (callback as Callback)(err, result);
      if (POOLER.has(code)) naming = false;
      else names.set(text, null); // this text unnamed from now on
      // Retried only if the connection was idle before it (the status of its last ReadyForQuery): inside a
      // transaction the failure has aborted it, and the unit of work must fail as a whole.
      if (connection.getTransactionStatus?.() !== 'I') return (callback as Callback)(err, result);
      original(config, callback);
    }) as Callback);
  };
}
