// How hard the property suites push: FUZZ_RUNS cases per endpoint property (200 in `npm test`, 10,000 under
// `npm run fuzz`), split over a few lanes that run at once (a few requests in flight), each lane one fc.assert with
// its own fixed seed — fast-check prints the seed, the path and the shrunk counterexample of a failure, so any
// failure replays with FUZZ_SEED=<seed>.
import fc from 'fast-check';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number (got ${JSON.stringify(raw)})`);
  return n;
}

/** Cases per endpoint property. */
export const FUZZ_RUNS = positiveInt('FUZZ_RUNS', 200);
/** The first lane's seed; lane i uses FUZZ_SEED + i. */
export const FUZZ_SEED = positiveInt('FUZZ_SEED', 20_261_107);
/** Requests in flight at once: enough to use both cores, few enough to leave the machine to other suites. */
export const LANES = positiveInt('FUZZ_LANES', 4);

/**
 * The fuzzed server's rate limits turned off (0) and its client caps out of reach: the properties test what lies
 * behind them (a 429 would pass
 * every property while reaching nothing). The rate limiter has its own tests.
 */
export const FUZZ_ENV: Record<string, string> = {
  LOG_LEVEL: 'silent',
  REGISTRATION_RATE_LIMIT: '0',
  TOKEN_RATE_LIMIT: '0',
  TOKEN_RATE_LIMIT_IP: '0',
  AUTHORIZE_RATE_LIMIT: '0',
  LOGIN_RATE_LIMIT: '0',
  LOGIN_RATE_LIMIT_IP: '0',
  CIMD_RATE_LIMIT: '0',
  // Likewise the dynamic-client caps: 10,000 registrations per property would fill them.
  DCR_MAX_CLIENTS: '1000000',
  DCR_MAX_CLIENTS_PER_SOURCE: '1000000',
};

/** A jest timeout for a property of `runs` cases costing about `msPerCase` each (lanes overlap, so this is generous). */
export function fuzzTimeout(msPerCase: number, runs = FUZZ_RUNS): number {
  return Math.max(60_000, Math.ceil(runs * msPerCase) + 30_000);
}

/** Runs `runs` cases of the property split over LANES concurrent lanes, each with its own fixed seed. */
export async function inLanes<T extends unknown[]>(property: () => fc.IAsyncProperty<T>, runs = FUZZ_RUNS): Promise<void> {
  const perLane = Math.ceil(runs / LANES);
  await Promise.all(
    Array.from({ length: LANES }, (_, lane) => fc.assert(property(), { seed: FUZZ_SEED + lane, numRuns: perLane, endOnFailure: true })),
  );
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
}

export async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** fetch with a timeout, so a hung server fails the property instead of the whole jest run. */
export function send(url: string, init: RequestInit = {}): Promise<Answer> {
  return fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000), ...init }).then(answerOf);
}

const TOKEN_FIELDS = /"(access_token|refresh_token|id_token)"\s*:/;

/**
 * What every answer to malformed input must keep: no 5xx; a 4xx answered in JSON is an OAuth error
 * ({"error": "<code>", optional "error_description": string}); no token in the body, the headers or a redirect.
 * Returns what is wrong, or undefined.
 */
export function malformedInputProblem(a: Answer, opts: { jsonEndpoint: boolean }): string | undefined {
  const show = () => `${a.status} ${a.headers.get('content-type') ?? ''} ${a.text.slice(0, 300)}`;
  if (a.status >= 500) return `5xx: ${show()}`;
  if (TOKEN_FIELDS.test(a.text)) return `a token was issued: ${show()}`;
  const location = a.headers.get('location') ?? '';
  if (/[?&#](code|access_token|refresh_token|id_token)=/.test(location)) return `redirected with a credential: ${location}`;
  if (a.status >= 400) {
    const isJson = /^application\/(.+\+)?json/i.test(a.headers.get('content-type') ?? '');
    if (opts.jsonEndpoint && !isJson) return `a JSON endpoint refused without JSON: ${show()}`;
    if (isJson) {
      const body = a.json as Record<string, unknown> | undefined;
      if (!body || typeof body !== 'object' || typeof body.error !== 'string' || !/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/.test(body.error)) return `not an OAuth error body: ${show()}`;
      if ('error_description' in body && typeof body.error_description !== 'string') return `error_description is not a string: ${show()}`;
    }
  }
  return undefined;
}

/** Throws (failing the fast-check case) when the answer breaks the rules above. */
export function expectSafe(a: Answer, opts: { jsonEndpoint: boolean }, what: string): void {
  const problem = malformedInputProblem(a, opts);
  if (problem) throw new Error(`${what}: ${problem}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Shared arbitraries

/** Strings from every corner: ASCII, graphemes, lone surrogates and control characters, and known troublemakers. */
export const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', '\ud800', '\u202e', '%00', '%zz', '%', '\r\n', '🙂', 'ä', '..', '../', '${x}', '<script>', "'; drop table x;--",
    '__proto__', 'constructor', 'null', 'undefined', 'true', '[]', '{}', '-1', '1e999', 'NaN'),
  fc.string({ minLength: 2000, maxLength: 9000 }),
);

/** Random bytes as a string (latin1 of arbitrary octets). */
export const bytes = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1'));

/** base64url text that looks like a code, a token or a verifier. */
export const tokenish = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64url')),
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,128}$/),
  fc.tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 200 }), fc.base64String({ maxLength: 90 })).map(([h, p, s]) => `${h}.${p}.${s}`),
);

/** Changes one character of a real value: close to valid, still malformed. */
export function mutated(value: string) {
  return fc.tuple(fc.nat({ max: Math.max(0, value.length - 1) }), fc.constantFrom('A', 'B', '_', '-', '0', '.', '%', ' ')).map(([i, c]) => {
    const replaced = `${value.slice(0, i)}${c}${value.slice(i + 1)}`;
    return replaced === value ? `${value}x` : replaced;
  });
}

/** A urlencoded body from key/value pairs, keys repeated as generated (duplicate parameters are an attack too). */
export function formBody(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.map(([k, v]) => `${encodeLoosely(k)}=${encodeLoosely(v)}`).join('&');
}

/** encodeURIComponent that survives lone surrogates (which it refuses): they go out as raw %ED bytes. */
export function encodeLoosely(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return Buffer.from(value, 'utf8').toString('latin1').replace(/[^A-Za-z0-9_.~-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
  }
}
