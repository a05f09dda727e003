// How long a fetched metadata document may be reused: RFC 9111 §5.2.2 (Cache-Control response directives), §4.2.3
// (Age), §5.3 (Expires) and §4.2.2 (heuristic freshness when the response says nothing); CIMD draft, "Client
// Information Discovery": the authorization server respects the document's HTTP caching headers, with an upper
// limit of its own (24 hours). Errors are never cached (oidc-provider stores only documents it
// accepted).
//
// oidc-provider reads only max-age and Expires, and raises anything shorter to its configured minimum; Gatehouse
// computes the lifetime itself (no-store and no-cache mean "do not reuse") and hands oidc-provider a plain max-age,
// with the minimum set to 0.

export const MAX_DOCUMENT_LIFETIME = 24 * 3600;
/** A response without any caching header is reused this long (RFC 9111 §4.2.2 allows a heuristic). */
export const HEURISTIC_LIFETIME = 5 * 60;

function directive(cacheControl: string, name: string): string | true | undefined {
  for (const part of cacheControl.split(',')) {
    const [key, ...value] = part.trim().split('=');
    if (key?.trim().toLowerCase() === name) return value.length ? value.join('=').trim().replace(/^"|"$/g, '') : true;
  }
  return undefined;
}

function seconds(value: string | true | undefined): number | undefined {
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Seconds the document may be reused, between 0 and MAX_DOCUMENT_LIFETIME. */
export function documentLifetime(headers: Headers, now = Date.now()): number {
  const cacheControl = headers.get('cache-control') ?? '';
  let lifetime: number | undefined;
  if (directive(cacheControl, 'no-store') || directive(cacheControl, 'no-cache')) {
    lifetime = 0;
  } else {
    // Gatehouse's document cache serves every user of the instance: a shared cache, so s-maxage comes first.
    lifetime = seconds(directive(cacheControl, 's-maxage')) ?? seconds(directive(cacheControl, 'max-age'));
    if (lifetime === undefined && headers.has('expires')) {
      const expires = Date.parse(headers.get('expires')!);
      const date = Date.parse(headers.get('date') ?? '');
      // An unparseable Expires means "already expired" (RFC 9111 §5.3).
      lifetime = Number.isNaN(expires) ? 0 : Math.floor((expires - (Number.isNaN(date) ? now : date)) / 1000);
    }
    lifetime = (lifetime ?? HEURISTIC_LIFETIME) - (seconds(headers.get('age') ?? undefined) ?? 0);
  }
  return Math.max(0, Math.min(MAX_DOCUMENT_LIFETIME, lifetime));
}

/** The same response with its caching headers replaced by one max-age oidc-provider applies as is. */
export function withLifetime(response: Response, lifetime: number): Response {
  const headers = new Headers(response.headers);
  for (const name of ['expires', 'age', 'date']) headers.delete(name);
  headers.set('cache-control', `max-age=${lifetime}`);
  return new Response(response.body, { status: response.status, headers });
}
