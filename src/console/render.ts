// What every console page shares: the layout's navigation, the signed-in admin, the CSRF token every form
// carries, a one-shot notice after a change (a short cookie, so it survives the redirect that follows a post), and
// the audit event naming the admin for each change.
import type { Context } from 'koa';
import { requestOrigin, type AuditEvent, type AuditLog } from '../audit/writer.js';
import type { Views } from '../views/views.js';
import { consoleState } from './guard.js';

const NOTICE_COOKIE = 'gatehouse.console.notice';

export const NAV = [
  { id: 'overview', label: 'Overview', path: '' },
  { id: 'clients', label: 'Clients', path: '/clients' },
  { id: 'resources', label: 'MCP servers', path: '/resources' },
  { id: 'connections', label: 'Connections', path: '/connections' },
  { id: 'people', label: 'People', path: '/people' },
  { id: 'audit', label: 'Audit log', path: '/audit' },
  { id: 'keys', label: 'Keys', path: '/keys' },
  { id: 'policy', label: 'Policy', path: '/policy' },
] as const;

export type Section = (typeof NAV)[number]['id'];

export class ConsolePages {
  constructor(
    private readonly views: Views,
    private readonly audit: AuditLog,
    readonly base: string,
    private readonly secure: boolean,
  ) {}

  /** A URL under the console, e.g. url('/clients') → <issuer path>/console/clients. */
  url(path = ''): string {
    return `${this.base}/console${path}`;
  }

  /** Renders a console page; `section` is the nav entry marked current (none for a page of no section, a 404). */
  render(ctx: Context, section: Section | undefined, view: string, data: Record<string, unknown> & { title: string }, status = 200): void {
    const { session, account } = consoleState(ctx);
    const cookieOptions = { path: this.url(), httpOnly: true, sameSite: 'strict' as const, secure: this.secure, signed: true, overwrite: true };
    const notice = ctx.cookies.get(NOTICE_COOKIE, { signed: true });
    if (notice) ctx.cookies.set(NOTICE_COOKIE, null, cookieOptions);
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = this.views.page(ctx, `console/${view}`, {
      ...data,
      section,
      nav: NAV.map((n) => ({ ...n, href: this.url(n.path), current: n.id === section })),
      consoleBase: this.url(),
      csrf: session.csrf,
      admin: account.email ?? account.name ?? account.id,
      notice: notice ? decodeURIComponent(notice) : undefined,
    });
  }

  /** The page after signing out (no navigation: there is no session any more). */
  signedOut(): string {
    return this.views.render('console/signed-out', { title: 'Signed out', loginUrl: this.url('/login') });
  }

  /** After a change: back to a page (303, so a reload does not post again) with a notice shown once. */
  redirect(ctx: Context, path: string, notice?: string): void {
    if (notice) {
      ctx.cookies.set(NOTICE_COOKIE, encodeURIComponent(notice.slice(0, 300)), {
        path: this.url(),
        httpOnly: true,
        sameSite: 'strict',
        secure: this.secure,
        signed: true,
        maxAge: 60_000,
        overwrite: true,
      });
    }
    ctx.status = 303;
    ctx.redirect(this.url(path));
  }

  /** The audit event of an admin's change: the admin (email, else account id) is always the actor. */
  async record(ctx: Context, event: Omit<AuditEvent, 'actor' | 'ip' | 'userAgent'>): Promise<void> {
    const { account } = consoleState(ctx);
    await this.audit.record({ ...event, actor: account.email ?? account.id, details: { ...event.details, adminId: account.id }, ...requestOrigin(ctx) });
  }
}
