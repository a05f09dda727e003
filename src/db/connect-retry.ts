// Waiting for PostgreSQL at start (README, "Configuration": DB_CONNECT_RETRY_SECONDS): compose and Kubernetes start
// Gatehouse and its database in no particular order, so a start retries the first connection with backoff before it
// gives up. Whatever fails, the operator reads one line naming DATABASE_URL by host, port and database
// (never the password, never the whole URL) and the cause, with no stack trace.
import pg from 'pg';

/** The start gave up on the database: `message` is the whole, single line to print. */
export class DatabaseUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUnreachableError';
  }
}

/** `DATABASE_URL (host:port/database)`: what to call the database in a message, without user or password. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    // A ?host= parameter (a Unix socket directory) overrides the URL's host, as pg reads it.
    const host = u.searchParams.get('host') ?? (u.hostname || 'localhost');
    const database = decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || '(default)';
    return `DATABASE_URL (${host}:${u.port || '5432'}/${database})`;
  } catch {
    return 'DATABASE_URL';
  }
}

interface Failure {
  cause: string;
  /** Whether waiting may help: the database may come up, be created, or have the role's password rotated in. */
  retry: boolean;
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporarily)',
  EPIPE: 'connection closed',
};

/**
 * What went wrong, in words, and whether to retry (README, "Configuration": DB_CONNECT_RETRY_SECONDS). Retried:
 * the network (refused, reset, timed out, host not found: the database or its DNS name is not up yet), 57P03 (the
 * database system is starting up), 53300 (too many connections), 3D000 (the database does not exist: an init job
 * may be creating it) and 28P01/28000 (authentication: the role or its secret may be provisioned after Gatehouse
 * starts). Not retried: anything else, such as a TLS mismatch, which no amount of waiting changes.
 */
export function connectionFailure(err: unknown): Failure {
  // Node's happy-eyeballs connect to a name with several addresses fails with an AggregateError whose own message
  // is empty: its first error says what happened.
  const e = (err instanceof AggregateError && err.errors.length ? err.errors[0] : err) as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' && e.message ? e.message.split('\n')[0]! : String(err);
  if (code && NETWORK[code]) return { cause: NETWORK[code], retry: true };
  if (code && ['57P03', '53300', '3D000', '28P01', '28000'].includes(code)) return { cause: message, retry: true };
  if (/timeout|timed out|terminated unexpectedly/i.test(message)) return { cause: 'connection timed out', retry: true };
  return { cause: message, retry: false };
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
const ATTEMPT_TIMEOUT_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One connection and `select 1`, on a client of its own: the pool never sees (or logs) a failed start. */
async function probe(url: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, application_name: 'gatehouse' });
  client.on('error', () => undefined); // a late socket error after a failed connect is the same failure
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Resolves once DATABASE_URL accepts a connection. A failure worth waiting on is retried with backoff (250 ms,
 * doubling, at most 5 s apart) until `retrySeconds` have passed; `onWait` hears each new cause once. Otherwise throws
 * a DatabaseUnreachableError whose message is the one line to print.
 */
export async function waitForDatabase(url: string, options: { retrySeconds: number; onWait?: (line: string) => void }): Promise<void> {
  const target = describeDatabaseUrl(url);
  const deadline = Date.now() + options.retrySeconds * 1000;
  let attempts = 0;
  let delay = FIRST_DELAY_MS;
  let lastCause: string | undefined;
  for (;;) {
    attempts++;
    try {
      await probe(url, Math.max(1_000, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now())));
      return;
    } catch (err) {
      const { cause, retry } = connectionFailure(err);
      const left = deadline - Date.now();
      if (!retry || left <= 0) {
        const tried = attempts > 1 ? ` (gave up after ${attempts} attempts in ${options.retrySeconds} s, DB_CONNECT_RETRY_SECONDS)` : '';
        throw new DatabaseUnreachableError(`${target}: ${cause}${tried}`);
      }
      if (cause !== lastCause) options.onWait?.(`${target}: ${cause}; retrying for up to ${Math.ceil(left / 1000)} s (DB_CONNECT_RETRY_SECONDS)`);
      lastCause = cause;
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}
