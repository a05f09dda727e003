// Signs into the admin console over real HTTP (login form through Gatehouse's own /authorize, as a browser would)
// and submits console forms with the page's CSRF token.
import { Browser, login } from './browser-flow.js';

export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error(`no CSRF token in page: ${html.slice(0, 300)}`);
  return m[1]!;
}

export class ConsoleBrowser extends Browser {
  constructor(readonly issuer: string) {
    super(new URL(issuer).origin);
  }

  /** GETs a console page (path under /console) and returns status + HTML. */
  async page(path = ''): Promise<{ status: number; html: string; res: Response }> {
    const res = await this.get(`${this.issuer}/console${path}`);
    return { status: res.status, html: await res.clone().text(), res };
  }

  /** Posts a console form with the CSRF token of the page it came from (fetched first). */
  async submit(formPath: string, pagePath: string, form: Record<string, string>): Promise<Response> {
    const { html } = await this.page(pagePath);
    return this.postForm(`${this.issuer}/console${formPath}`, { _csrf: csrfOf(html), ...form });
  }
}

/** Runs the console sign-in with a local account; returns the browser holding the console session. */
export async function consoleSignIn(issuer: string, email: string, password: string): Promise<ConsoleBrowser> {
  const browser = new ConsoleBrowser(issuer);
  const loginPage = await browser.follow(await browser.get(`${issuer}/console/login`));
  if (!(loginPage instanceof Response)) throw new Error(`console login left the issuer: ${loginPage.href}`);
  const done = await login(browser, loginPage, email, password);
  if (!(done instanceof Response) || done.status !== 200) throw new Error(`console sign-in ended on ${done instanceof URL ? done.href : `${done.status} ${await done.text()}`}`);
  const html = await done.text();
  if (!html.includes('Continue to the console')) throw new Error(`console sign-in did not complete: ${html.slice(0, 400)}`);
  return browser;
}
