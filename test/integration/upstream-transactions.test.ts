// The server-side half of the upstream handshake is single use and short-lived: two callbacks racing for one
// transaction (a replay fired in parallel) get it at most once, only with its own state, an expired one is never
// returned, and the checks are sealed at rest. Races are run against whatever database the suite uses (real PostgreSQL in CI).
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let db: TestDatabase;
let gh: TestServer;
const checks = { state: 'state-value-abcdefghijklmnop', nonce: 'nonce-value-abcdefghijkl', codeVerifier: 'verifier-value-abcdefghijklmnopqrstuvwxyz0123456' };
const later = () => new Date(Date.now() + 60_000);

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

describe('upstream transactions', () => {
  it('are taken at most once, even by concurrent callbacks', async () => {
    const tx = gh.services.transactions;
    await tx.begin('uid-race', 'oidc', checks, later());
    const results = await Promise.all(Array.from({ length: 5 }, () => tx.take('uid-race', checks.state)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results.find(Boolean)).toEqual({ interactionId: 'uid-race', connectionId: 'oidc', checks });
    expect(await tx.take('uid-race', checks.state)).toBeUndefined();
    expect(await tx.pending('uid-race')).toBe(false);
  });

  it('are never returned once expired, and are used up by the attempt', async () => {
    const tx = gh.services.transactions;
    await tx.begin('uid-old', 'oidc', checks, new Date(Date.now() - 1000));
    expect(await tx.take('uid-old', checks.state)).toBeUndefined();
    expect(await gh.services.handle.db('upstream_transactions').where({ interaction_id: 'uid-old' }).first()).toBeUndefined();
  });

  it('are taken only with their own state, in one statement: any other state (or none) leaves them intact', async () => {
    const tx = gh.services.transactions;
    await tx.begin('uid-state', 'oidc', checks, later());
    const wrong = await Promise.all(['x', '', `${checks.state}x`, checks.state.toUpperCase()].map((s) => tx.take('uid-state', s)));
    expect(wrong).toEqual([undefined, undefined, undefined, undefined]);
    expect(await tx.pending('uid-state')).toBe(true);
    // Stored as a digest, so a state is compared without opening the sealed checks; the right one takes it once.
    const row = await gh.services.handle.db('upstream_transactions').where({ interaction_id: 'uid-state' }).first();
    expect(row.state_digest).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await tx.take('uid-state', checks.state)).toEqual({ interactionId: 'uid-state', connectionId: 'oidc', checks });
    expect(await tx.pending('uid-state')).toBe(false);
  });

  it('never match when written without a digest (rows from before the state_digest migration)', async () => {
    const tx = gh.services.transactions;
    await tx.begin('uid-legacy', 'oidc', checks, later());
    await gh.services.handle.db('upstream_transactions').where({ interaction_id: 'uid-legacy' }).update({ state_digest: null });
    expect(await tx.take('uid-legacy', checks.state)).toBeUndefined();
    expect(await tx.take('uid-legacy', '')).toBeUndefined();
  });

  it('live at most ten minutes, whatever the interaction allows', async () => {
    await gh.services.transactions.begin('uid-long', 'oidc', checks, new Date(Date.now() + 3600_000));
    const row = await gh.services.handle.db('upstream_transactions').where({ interaction_id: 'uid-long' }).first();
    expect(new Date(row.expires_at).getTime()).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
  });

  it('are restarted, not duplicated, when the person picks another connection', async () => {
    const tx = gh.services.transactions;
    await tx.begin('uid-twice', 'oidc', checks, later());
    await tx.begin('uid-twice', 'github', { ...checks, state: 'second-state-abcdefghijklmnop' }, later());
    expect(await tx.take('uid-twice', checks.state)).toBeUndefined(); // the first leg's state is no longer valid
    expect(await tx.take('uid-twice', 'second-state-abcdefghijklmnop')).toMatchObject({ connectionId: 'github', checks: { state: 'second-state-abcdefghijklmnop' } });
  });

  it('keep state, nonce and PKCE verifier sealed at rest, bound to their interaction', async () => {
    await gh.services.transactions.begin('uid-sealed', 'oidc', checks, later());
    const row = await gh.services.handle.db('upstream_transactions').where({ interaction_id: 'uid-sealed' }).first();
    for (const secret of Object.values(checks)) expect(JSON.stringify(row)).not.toContain(secret);
    // Moving the sealed checks under another interaction id does not make them usable there.
    await gh.services.transactions.begin('uid-other', 'oidc', { ...checks, state: 'x'.repeat(30) }, later());
    await gh.services.handle.db('upstream_transactions').where({ interaction_id: 'uid-other' }).update({ checks: row.checks });
    await expect(gh.services.transactions.take('uid-other', 'x'.repeat(30))).rejects.toThrow();
  });
});

describe('upstream tokens', () => {
  it('are sealed at rest, per account and connection, and a later answer without a refresh token keeps the old one', async () => {
    const account = await gh.services.accounts.link({ connector: 'oidc', issuer: 'https://idp.example.com', subject: 'tok-1', groups: [] }, false);
    const store = gh.services.upstreamTokens;
    await store.save(account.id, 'oidc', { accessToken: 'upstream-access-AAAAAAAAAAAAAAAA', refreshToken: 'upstream-refresh-RRRRRRRRRRRRRRRR', expiresAt: later(), scope: 'openid offline_access' });
    const row = await gh.services.handle.db('upstream_tokens').where({ account_id: account.id }).first();
    expect(JSON.stringify(row)).not.toMatch(/upstream-(access|refresh)-/);
    await store.save(account.id, 'oidc', { accessToken: 'upstream-access-BBBBBBBBBBBBBBBB' });
    expect(await store.find(account.id, 'oidc')).toMatchObject({ accessToken: 'upstream-access-BBBBBBBBBBBBBBBB', refreshToken: 'upstream-refresh-RRRRRRRRRRRRRRRR' });
    // Sealed values are bound to their account: copied onto another account's row they do not open.
    const other = await gh.services.accounts.link({ connector: 'oidc', issuer: 'https://idp.example.com', subject: 'tok-2', groups: [] }, false);
    await gh.services.handle.db('upstream_tokens').insert({ ...row, account_id: other.id });
    await expect(store.find(other.id, 'oidc')).rejects.toThrow();
  });
});
