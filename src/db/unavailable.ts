// Whether an error means "the database cannot be reached right now" rather than "this request is wrong" or "the
// code is wrong". Such errors answer 503 temporarily_unavailable (RFC 6749 §4.1.2.1's code for a transient
// condition) instead of a 500: the client may retry, and the operator's alert is /readyz, not a stack trace.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
// SQLSTATE: class 08 connection exceptions; 57P01–57P03 shutdown / cannot connect now; 53300 too many connections;
// 57014 query_canceled (our statement_timeout fired: the database is too slow to serve in time).
const SQLSTATE = /^(08...|57P0[123]|53300|57014)$/;
const MESSAGES = [
  'Connection terminated', // pg: socket closed under a query or while connecting
  'Query read timeout', // pg query_timeout
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Unable to acquire a connection', // knex: the pool is gone
  'Knex: Timeout acquiring a connection',
  'Connection ended unexpectedly',
];

// pg's connectionTimeoutMillis destroys the socket with exactly this message (and no code).
const PG_CONNECT_TIMEOUT = 'timeout expired';

export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATE.test(code))) return true;
    if (name === 'KnexTimeoutError') return true;
    if (typeof message === 'string' && (message === PG_CONNECT_TIMEOUT || MESSAGES.some((m) => message.includes(m)))) return true;
  }
  return false;
}

/** How long a client should wait before retrying, in seconds (the pool reconnects on the next request). */
export const UNAVAILABLE_RETRY_AFTER = 5;
