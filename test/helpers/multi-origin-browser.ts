// A browser for flows that cross origins (Gatehouse ↔ an upstream IdP ↔ the MCP client's redirect URI): one cookie
// jar per origin, as if each origin were its own site, redirects followed across origins until the test says stop,
// and form posts carrying the Origin of the page they were submitted from. Every URL the browser opens is kept in
// `history`, so a test can prove where the browser did (or did not) go.
//
// Cookies are kept per origin rather than per host on purpose: Gatehouse and the mock IdP both run on 127.0.0.1
// and both use oidc-provider's cookie names (`_session`, `_interaction`…), which a real browser keeps apart because
// they live on different hosts. SameSite is honoured the way browsers do for the requests these tests make:
// a cross-site top-level GET carries Lax cookies but not Strict ones; a cross-site POST carries only None.
type SameSite = 'strict' | 'lax' | 'none';

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  sameSite: SameSite;
}

/** One origin's cookies, with RFC 6265 path matching and expiry on Max-Age ≤ 0 or a past Expires. */
export class OriginJar {
  private readonly cookies = new Map<string, StoredCookie>();

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq < 1) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = '/';
      let sameSite: SameSite = 'lax'; // browsers' default when the attribute is absent
      let expired = false;
      for (const attr of attrs) {
        const [k, ...rest] = attr.trim().split('=');
        const key = k!.toLowerCase();
        const v = rest.join('=').trim();
        if (key === 'path' && v.startsWith('/')) path = v;
        else if (key === 'samesite') sameSite = (v.toLowerCase() as SameSite) || 'lax';
        else if (key === 'max-age' && Number(v) <= 0) expired = true;
        else if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const key = `${name};${path}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path, sameSite });
    }
  }

  /** The Cookie header for a request to `url`; `crossSite` leaves out what SameSite withholds. */
  header(url: URL, method: string, crossSite: boolean): string {
    return [...this.cookies.values()]
      .filter((c) => pathMatches(url.pathname, c.path))
      .filter((c) => !crossSite || c.sameSite === 'none' || (c.sameSite === 'lax' && method === 'GET'))
      // RFC 6265 §5.4: longer paths first.
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  get(name: string, path?: string): string | undefined {
    for (const c of this.cookies.values()) if (c.name === name && (path === undefined || c.path === path)) return c.value;
    return undefined;
  }

  /** Sets a cookie as if a page of this origin had (an attacker planting one, for instance). */
  set(name: string, value: string, path = '/', sameSite: SameSite = 'lax'): void {
    this.cookies.set(`${name};${path}`, { name, value, path, sameSite });
  }

  /** Removes every cookie of that name (all paths); returns how many were removed. */
  delete(name: string): number {
    let n = 0;
    for (const [k, c] of this.cookies) if (c.name === name && this.cookies.delete(k)) n++;
    return n;
  }

  names(): string[] {
    return [...this.cookies.values()].map((c) => `${c.name}@${c.path}`);
  }

  clear(): void {
    this.cookies.clear();
  }
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

export type Stop = (next: URL) => boolean;

/** Stops at the first URL of one of these origins (an MCP client's redirect URI, for instance). */
export const atOrigin =
  (...origins: string[]): Stop =>
  (next) =>
    origins.some((o) => new URL(o).origin === next.origin);

/** Stops at the first URL whose origin and path start with `prefix` (e.g. `${gatehouse}/upstream/callback`). */
export const atUrl =
  (prefix: string): Stop =>
  (next) =>
    `${next.origin}${next.pathname}`.startsWith(prefix);

export class MultiOriginBrowser {
  private readonly jars = new Map<string, OriginJar>();
  /** Every URL requested, in order (method and URL). */
  readonly history: Array<{ method: string; url: string; status: number }> = [];

  constructor(readonly label = 'browser') {}

  jar(origin: string): OriginJar {
    const o = new URL(origin).origin;
    let jar = this.jars.get(o);
    if (!jar) this.jars.set(o, (jar = new OriginJar()));
    return jar;
  }

  /** Forgets every cookie of one origin (its session ended, or the person cleared that site's data). */
  forgetOrigin(origin: string): void {
    this.jar(origin).clear();
  }

  /**
   * One request, no redirect followed. `from` is the origin of the page that made it (absent: typed into the
   * address bar or opened from a link in another application, which browsers treat as a same-site navigation).
   */
  async request(url: string | URL, init: { method?: string; body?: string; headers?: Record<string, string>; from?: string } = {}): Promise<Response> {
    const target = new URL(url);
    const method = (init.method ?? 'GET').toUpperCase();
    const crossSite = init.from !== undefined && new URL(init.from).origin !== target.origin;
    const headers = new Headers(init.headers);
    const cookie = this.jar(target.origin).header(target, method, crossSite);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(target, { method, headers, body: init.body, redirect: 'manual' });
    this.jar(target.origin).store(res);
    this.history.push({ method, url: target.href, status: res.status });
    return res;
  }

  get(url: string | URL, from?: string): Promise<Response> {
    return this.request(url, { from });
  }

  /** Submits a form found on a page of `pageOrigin` (default: the action's own origin), Origin header included. */
  postForm(url: string | URL, form: Record<string, string>, pageOrigin?: string): Promise<Response> {
    const origin = new URL(pageOrigin ?? url).origin;
    return this.request(url, {
      method: 'POST',
      from: origin,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
      body: new URLSearchParams(form).toString(),
    });
  }

  /**
   * Follows redirects (across origins) until a response is not a redirect, or the next URL satisfies `stop`, which
   * is returned without being opened. Each hop is a navigation initiated by the previous URL's origin.
   */
  async follow(res: Response, stop: Stop = () => false, max = 20): Promise<Response | URL> {
    let current = res;
    let from = res.url;
    for (let i = 0; i < max; i++) {
      if (current.status < 300 || current.status >= 400) return current;
      const location = current.headers.get('location');
      if (!location) return current;
      const next = new URL(location, from);
      if (stop(next)) return next;
      current = await this.get(next, from);
      from = next.href;
    }
    throw new Error(`${this.label}: more than ${max} redirects, last at ${from}`);
  }

  /** Opens a URL and follows where it leads: `follow(get(url))`. */
  async open(url: string | URL, stop: Stop = () => false, from?: string): Promise<Response | URL> {
    return this.follow(await this.get(url, from), stop);
  }

  /** Was any URL of this origin+path prefix opened? */
  visited(prefix: string): boolean {
    return this.history.some((h) => h.url.startsWith(prefix));
  }
}

/** The action of the first form on a page whose HTML contains `marker` (or the first form at all). */
export function formAction(html: string, pageUrl: string, marker?: string): URL {
  const forms = [...html.matchAll(/<form\b[^>]*\baction="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = marker ? forms.find((f) => f[0].includes(marker)) : forms[0];
  if (!form) throw new Error(`no form${marker ? ` containing ${marker}` : ''} in page ${pageUrl}: ${html.slice(0, 400)}`);
  return new URL(form[1]!.replace(/&amp;/g, '&'), pageUrl);
}
