// Input sanity at the edge (docs/SECURITY.md "Requests"): a NUL byte, a lone UTF-16 surrogate or malformed
// percent-encoding in any path, query or form field is refused with a 400 before any rule or the database sees it.
// PostgreSQL refuses NUL in text (a 5xx if it got that far), `decodeURIComponent` throws on a stray `%`, and a lone
// surrogate cannot be stored as UTF-8; none of them has a legitimate use in an OAuth request.

/** Why this decoded value is refused, or undefined. */
export function valueProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character';
  if (!value.isWellFormed()) return 'contains a lone surrogate (not valid Unicode)';
  return undefined;
}

const MALFORMED_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/** Decodes one percent-encoded component strictly (`plus` also turns '+' into a space, as forms do). */
export function strictDecode(raw: string, plus = false): { value: string } | { problem: string } {
  if (!raw.includes('%') && !(plus && raw.includes('+'))) {
    const problem = valueProblem(raw);
    return problem ? { problem } : { value: raw };
  }
  if (MALFORMED_PERCENT.test(raw)) return { problem: 'malformed percent-encoding' };
  let value: string;
  try {
    value = decodeURIComponent(plus ? raw.replace(/\+/g, ' ') : raw);
  } catch {
    return { problem: 'percent-encoding that is not valid UTF-8' };
  }
  const problem = valueProblem(value);
  return problem ? { problem } : { value };
}

/**
 * Decodes an `application/x-www-form-urlencoded` string (a query string or a form body) strictly, in one pass: its
 * name/value pairs in order (empty pieces skipped, as URLSearchParams does), or the first problem.
 */
export function parseForm(raw: string): { pairs: Array<[string, string]> } | { problem: string } {
  const pairs: Array<[string, string]> = [];
  if (!raw) return { pairs };
  for (const piece of raw.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const name = strictDecode(eq === -1 ? piece : piece.slice(0, eq), true);
    if ('problem' in name) return name;
    const value = strictDecode(eq === -1 ? '' : piece.slice(eq + 1), true);
    if ('problem' in value) return value;
    pairs.push([name.value, value.value]);
  }
  return { pairs };
}

/** Why a query string or form body is refused, or undefined. */
export function formProblem(raw: string): string | undefined {
  const parsed = parseForm(raw);
  return 'problem' in parsed ? parsed.problem : undefined;
}

/** Why a parsed JSON value holds a string no field may hold, or undefined (walks objects and arrays). */
export function jsonProblem(value: unknown, depth = 0): string | undefined {
  if (depth > 32) return 'nested too deeply';
  if (typeof value === 'string') return valueProblem(value);
  if (Array.isArray(value)) {
    for (const v of value) {
      const p = jsonProblem(v, depth + 1);
      if (p) return p;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // JSON.parse makes it an own key, which would set an object's prototype once copied: never a name of anything.
      if (k === '__proto__') return 'has a "__proto__" key';
      const p = valueProblem(k) ?? jsonProblem(v, depth + 1);
      if (p) return p;
    }
  }
  return undefined;
}

/** A 400 the error handler answers in the OAuth format (or as the error page for a browser). */
export class BadInput extends Error {
  readonly status = 400;
  readonly expose = true;
  readonly error = 'invalid_request';
  /** `where` and `problem` read as one sentence: ('the path', 'contains a NUL character'). */
  constructor(where: string, problem?: string) {
    super(problem === undefined ? where : `${where} ${problem}`);
  }
  get error_description(): string {
    return this.message;
  }
}

/**
 * The path of the first own key among `names` anywhere in a parsed value (JSON.parse and YAML make `__proto__` an
 * own key, which a schema's record would drop without a word), or undefined.
 */
export function ownKeyPath(value: unknown, names: ReadonlySet<string>, path: Array<string | number> = []): Array<string | number> | undefined {
  if (!value || typeof value !== 'object' || path.length > 32) return undefined;
  for (const key of Object.keys(value)) {
    const here = [...path, Array.isArray(value) ? Number(key) : key];
    if (names.has(key)) return here;
    const inner = ownKeyPath((value as Record<string, unknown>)[key], names, here);
    if (inner) return inner;
  }
  return undefined;
}
