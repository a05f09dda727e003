// policy/settings.ts: stored overrides over the environment, parsed as the environment is, shared by every instance
// through the database within the cache's seconds; and policy/self-lockout.ts, the console's guard.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type DbHandle } from '../../src/db/connection.js';
import { migrateLatest } from '../../src/db/migrations.js';
import { selfLockout } from '../../src/policy/self-lockout.js';
import { PolicyError, PolicySettings } from '../../src/policy/settings.js';
import type { Account } from '../../src/upstream/accounts.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let db: TestDatabase;
let handle: DbHandle;
const config = loadConfig({ NODE_ENV: 'test', REGISTRATION: 'approval', CIMD_BLOCKED_DOMAINS: 'bad.example', LOG_LEVEL: 'silent' });

beforeAll(async () => {
  db = await createTestDatabase();
  handle = await openDatabase({ databaseUrl: db.env.DATABASE_URL, dataDir: db.dataDir });
  await migrateLatest(handle.db);
});
afterAll(async () => {
  await handle?.close();
  await db?.drop();
});

describe('PolicySettings', () => {
  it('is the environment until a value is stored, and the stored value (mode or list) after', async () => {
    const policy = new PolicySettings(handle.db, config);
    expect(await policy.get('REGISTRATION')).toBe('approval');
    expect(await policy.set('REGISTRATION', ' closed ', 'admin@example.com')).toBe('closed');
    expect(await policy.set('CIMD_BLOCKED_DOMAINS', 'EVIL.example., *.Worse.example', 'admin@example.com')).toEqual(['evil.example', '*.worse.example']);
    expect(await policy.get('REGISTRATION')).toBe('closed');
    expect(await policy.get('CIMD_BLOCKED_DOMAINS')).toEqual(['evil.example', '*.worse.example']);
    const entry = (await policy.entries()).find((e) => e.name === 'REGISTRATION')!;
    expect(entry).toMatchObject({ effective: 'closed', environment: 'approval', overridden: true, updatedBy: 'admin@example.com' });
    await policy.reset('REGISTRATION');
    await policy.reset('CIMD_BLOCKED_DOMAINS');
    expect(await policy.get('REGISTRATION')).toBe('approval');
    expect(await policy.get('CIMD_BLOCKED_DOMAINS')).toEqual(['bad.example']);
  });

  it('refuses what the environment would refuse, naming the setting, and stores nothing', async () => {
    const policy = new PolicySettings(handle.db, config);
    await expect(policy.set('REGISTRATION', 'sometimes', 'a')).rejects.toThrow(PolicyError);
    await expect(policy.set('CIMD_ALLOWED_DOMAINS', 'good.example, https://x.example/', 'a')).rejects.toThrow(/^CIMD_ALLOWED_DOMAINS: /);
    await expect(policy.set('ADMIN_EMAILS' as never, 'eve@evil.example', 'a')).rejects.toThrow(/not a policy setting/);
    expect(await handle.db('policy_settings').pluck('name')).toEqual([]);
  });

  it('another instance sees a change once its cache (2 s) expires, and the writer at once', async () => {
    const a = new PolicySettings(handle.db, config);
    const b = new PolicySettings(handle.db, config);
    expect(await b.get('REGISTRATION')).toBe('approval'); // b's cache now holds the environment's value
    await a.set('REGISTRATION', 'open', 'admin');
    expect(await a.get('REGISTRATION')).toBe('open');
    const started = Date.now();
    while ((await b.get('REGISTRATION')) !== 'open') {
      expect(Date.now() - started).toBeLessThan(3000);
      await new Promise((r) => setTimeout(r, 100));
    }
    await a.reset('REGISTRATION');
  });

  it('a read that started before a change does not put the old value back in the cache', async () => {
    const policy = new PolicySettings(handle.db, config);
    const before = policy.effective(); // in flight
    await policy.set('REGISTRATION', 'closed', 'admin');
    await before;
    expect(await policy.get('REGISTRATION')).toBe('closed');
    await policy.reset('REGISTRATION');
  });
});

describe('selfLockout', () => {
  const admin: Account = { id: 'a1', email: 'admin@example.com', emailVerified: true, name: null, groups: ['ops'], adminAtLastSignIn: true, disabled: false, deprovisionedAt: null, lastLoginAt: null };
  const policy = { REGISTRATION: 'open', CIMD_ALLOWED_DOMAINS: [], CIMD_BLOCKED_DOMAINS: [], ALLOWED_EMAIL_DOMAINS: [], ALLOWED_GROUPS: [] } as never;

  it('refuses an email-domain or group restriction the saving admin would fail', () => {
    expect(selfLockout(admin, policy, 'ALLOWED_EMAIL_DOMAINS', ['other.example'])).toMatch(/^ALLOWED_EMAIL_DOMAINS: this would stop you \(admin@example\.com\)/);
    expect(selfLockout(admin, policy, 'ALLOWED_GROUPS', ['finance'])).toMatch(/^ALLOWED_GROUPS: /);
    expect(selfLockout({ ...admin, emailVerified: false }, policy, 'ALLOWED_EMAIL_DOMAINS', ['example.com'])).toMatch(/not verified/);
  });

  it('accepts one the admin passes, an empty list, and settings that do not decide sign-in', () => {
    expect(selfLockout(admin, policy, 'ALLOWED_EMAIL_DOMAINS', ['example.com'])).toBeUndefined();
    expect(selfLockout(admin, policy, 'ALLOWED_GROUPS', ['ops', 'finance'])).toBeUndefined();
    expect(selfLockout(admin, policy, 'ALLOWED_GROUPS', [])).toBeUndefined();
    expect(selfLockout(admin, policy, 'CIMD_BLOCKED_DOMAINS', ['example.com'])).toBeUndefined();
  });
});
