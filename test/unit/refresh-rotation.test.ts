// The safety net of the one-statement rotation (src/oauth/refresh-rotation.ts): a refresh token a request noted for
// consumption but never rotated is spent before the response leaves, and if another request spent it first, the
// response carries invalid_grant instead of whatever tokens it held.
import { describe, expect, it, jest } from '@jest/globals';
import type { Context, Next } from 'koa';
import { deferConsume, settlePendingConsumes, takePendingConsume } from '../../src/oauth/refresh-rotation.js';

interface FakeCtx { status: number; body: unknown; headers: Record<string, string>; set(name: string, value: string): void }
const fakeCtx = (): FakeCtx => ({ status: 404, body: undefined, headers: {}, set(name, value) { this.headers[name] = value; } });

async function run(spendResult: boolean, route: (ctx: FakeCtx) => void) {
  const spend = jest.fn(async (_key: string) => spendResult);
  const ctx = fakeCtx();
  await settlePendingConsumes(spend)(ctx as unknown as Context, (async () => route(ctx)) as Next);
  return { ctx, spend };
}

describe('refresh rotation: a consumed token nobody rotated', () => {
  it('is spent after the route when no successor took the note', async () => {
    const { ctx, spend } = await run(true, (c) => {
      expect(deferConsume('rt-key', c)).toBe(true);
      c.status = 200;
      c.body = { access_token: 'at' };
    });
    expect(spend).toHaveBeenCalledWith('rt-key');
    expect(ctx.status).toBe(200);
    expect(ctx.body).toEqual({ access_token: 'at' });
  });

  it('turns a response with tokens into invalid_grant when another request spent the token first', async () => {
    const { ctx } = await run(false, (c) => {
      deferConsume('rt-key', c);
      c.status = 200;
      c.body = { access_token: 'at', refresh_token: 'rt' };
    });
    expect(ctx.status).toBe(400);
    expect(ctx.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token already used' });
    expect(ctx.headers['cache-control']).toBe('no-store');
  });

  it('does nothing when the successor took the note (the rotation statement spent the token)', async () => {
    const { ctx, spend } = await run(false, (c) => {
      deferConsume('rt-key', c);
      expect(takePendingConsume(c)).toBe('rt-key');
      c.status = 200;
    });
    expect(spend).not.toHaveBeenCalled();
    expect(ctx.status).toBe(200);
  });

  it('notes one token per request, and none outside a provider request', async () => {
    const c = fakeCtx();
    expect(deferConsume('first', c)).toBe(true);
    expect(deferConsume('second', c)).toBe(false); // the second consume goes to the database at once
    expect(takePendingConsume(c)).toBe('first');
    expect(takePendingConsume(c)).toBeUndefined();
    expect(deferConsume('no request')).toBe(false);
  });
});
