// Drives /authorize → login form → consent form → redirect over real HTTP with a cookie jar, the way a browser
// does, so integration tests exercise the exact pages and cookies a person meets.
import { createHash, randomBytes } from 'node:crypto';

export class CookieJar {
  private cookies = new Map<string, { value: string; path: string }>();

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const pathAttr = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const path = pathAttr ? pathAttr.slice(5) : '/';
      const key = `${name};${path}`;
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { value, path });
    }
  }

  header(url: string): string {
    const path = new URL(url).pathname;
    return [...this.cookies.entries()]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map(([k, c]) => `${k.split(';')[0]}=${c.value}`)
      .join('; ');
  }
}

export class Browser {
  readonly jar = new CookieJar();

  constructor(readonly origin: string) {}

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(res);
    return res;
  }

  get(url: string) {
    return this.request(url);
  }

  postForm(url: string, form: Record<string, string>) {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Follows redirects within the issuer; stops at the first response that is not a redirect or leaves it. */
  async follow(res: Response): Promise<Response | URL> {
    let current = res;
    for (let i = 0; i < 10 && current.status >= 300 && current.status < 400; i++) {
      const next = new URL(current.headers.get('location')!, this.origin);
      if (next.origin !== this.origin) return next;
      current = await this.get(next.href);
    }
    return current;
  }
}

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export interface AuthorizeParams {
  client_id: string;
  redirect_uri: string;
  code_challenge?: string;
  code_challenge_method?: string;
  scope?: string;
  resource?: string;
  state?: string;
  [k: string]: string | undefined;
}

export function authorizeUrl(issuer: string, params: AuthorizeParams): string {
  const q = new URLSearchParams({ response_type: 'code' });
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `${issuer}/authorize?${q}`;
}

export function formAction(html: string): string {
  const m = /<form[^>]*action="([^"]+)"/.exec(html);
  if (!m) throw new Error(`no form in page: ${html.slice(0, 300)}`);
  return m[1]!.replace(/&amp;/g, '&');
}

/** Submits the login page shown in `page`, returns the next response after redirects. */
export async function login(browser: Browser, page: Response, email: string, password: string): Promise<Response | URL> {
  const html = await page.text();
  if (!html.includes('Sign in')) throw new Error(`expected the login page, got: ${html.slice(0, 300)}`);
  const res = await browser.postForm(new URL(formAction(html), browser.origin).href, { email, password });
  return browser.follow(res);
}

export async function consent(browser: Browser, page: Response, decision: 'allow' | 'deny'): Promise<Response | URL> {
  const html = await page.text();
  if (!html.includes('Allow')) throw new Error(`expected the consent page, got: ${html.slice(0, 300)}`);
  const res = await browser.postForm(new URL(formAction(html), browser.origin).href, { decision });
  return browser.follow(res);
}

/** Runs the whole browser part and returns the final redirect to the client (with code or error). */
export async function authorizeThrough(
  browser: Browser,
  issuer: string,
  params: AuthorizeParams,
  user: { email: string; password: string },
  decision: 'allow' | 'deny' = 'allow',
): Promise<URL> {
  let step = await browser.follow(await browser.get(authorizeUrl(issuer, params)));
  if (step instanceof Response && new URL(step.url).pathname.includes('/interaction/')) {
    const html = await step.clone().text();
    if (html.includes('name="password"')) step = await login(browser, step, user.email, user.password);
  }
  if (step instanceof Response) {
    const html = await step.clone().text();
    if (html.includes('name="decision"')) step = await consent(browser, step, decision);
  }
  if (!(step instanceof URL)) throw new Error(`flow ended on ${step.status} ${step.url}: ${(await step.text()).slice(0, 400)}`);
  return step;
}

export async function registerPublicClient(issuer: string, redirectUris: string[], extra: Record<string, unknown> = {}) {
  const res = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Test MCP Client',
      redirect_uris: redirectUris,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...extra,
    }),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { client_id: string; registration_access_token: string; registration_client_uri: string };
}

export async function tokenRequest(issuer: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}
