// Security headers on every response: no framing (clickjacking of the consent page), no sniffing,
// no referrer leaking codes, a strict CSP with only same-origin styles and scripts and form targets the browser may need.
import type { Middleware } from 'koa';

export function securityHeaders(options: { https: boolean }): Middleware {
  return async (ctx, next) => {
    await next();
    ctx.set('X-Content-Type-Options', 'nosniff');
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts, defeating the origin check.
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    // script-src 'self': files from views/static only (the console's copy button); never inline, never eval.
    // form-action must allow the redirect to the client's callback after a form post, so it cannot be 'self' only.
    ctx.set(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'",
    );
    if (options.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  };
}
