// The admin service layer for people and keys (docs/ARCHITECTURE.md, "The admin service layer"): the same action
// through the console (real HTTP, a signed-in administrator) and through the CLI gives the same result, the same
// refusal and the same audit event — only the actor and `details.via` differ. Table-driven over the administrator
// mark, disable, enable and revoking grants, with the conflicts (marking twice, disabling a disabled person), an
// unknown person, the last administrator (never unmarked) and key rotation.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { oneJson, runCli } from '../helpers/cli.js';
import { consoleSignIn } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };

let db: TestDatabase;
let gh: TestServer | undefined;

type Row = { type: string; outcome: string; actor: string; reason: string | null; details: Record<string, unknown> | string };
type State = { disabled: boolean; localAdmin: boolean | null };

// console path (under /console/people/:id), CLI command; what follows; the refusal's words when refused.
const ACTIONS = [
  { console: 'make-admin', cli: 'make-admin', ok: true, state: { disabled: false, localAdmin: true } },
  { console: 'make-admin', cli: 'make-admin', ok: false, reason: 'already marked as an administrator' },
  { console: 'unmake-admin', cli: 'unmake-admin', ok: true, state: { disabled: false, localAdmin: false } },
  { console: 'disable', cli: 'disable', ok: true, state: { disabled: true, localAdmin: false } },
  { console: 'disable', cli: 'disable', ok: false, reason: 'already disabled' },
  { console: 'enable', cli: 'enable', ok: true, state: { disabled: false, localAdmin: false } },
  { console: 'revoke-all', cli: 'revoke-grants', ok: true, state: { disabled: false, localAdmin: false } },
] as const;

const TYPES = ['person.admin_granted', 'person.admin_granted', 'person.admin_revoked', 'person.disabled', 'person.disabled', 'person.enabled', 'grants.revoked_all'];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

/** A local person with an account, as `gatehouse user add` leaves them (not yet signed in). */
async function addPerson(server: TestServer, email: string): Promise<string> {
  const user = await server.services.users.create({ email, password: 'a long enough password 1' });
  await server.services.accounts.addLocal(user, 'local');
  return user.id;
}

const stateOf = async (server: TestServer, id: string): Promise<State> => ({
  disabled: (await server.services.accounts.findById(id))!.disabled,
  localAdmin: (await server.services.users.findById(id))!.isAdmin,
});

/** The audit rows of one person (or, for keys, of one type), without what names the actor or the person. */
async function rows(server: TestServer, where: (q: ReturnType<TestServer['services']['handle']['db']>) => unknown) {
  const q = server.services.handle.db('audit_events').orderBy('id', 'asc');
  where(q);
  return ((await q) as Row[]).map((r) => {
    const { via, actorId, accountId: _a, email: _e, kids: _k, activatesAt: _t, ...details } = typeof r.details === 'string' ? JSON.parse(r.details) : r.details;
    return { row: { type: r.type, outcome: r.outcome, reason: r.reason, details }, via, actorId, actor: r.actor };
  });
}

it('console and CLI: same results, same refusals, same audit events for people and keys', async () => {
  gh = await startTestServer(db.env);
  const adminId = (await gh.services.users.create(ADMIN)).id;
  const viaConsole = await addPerson(gh, 'console-target@example.com');
  const viaCli = await addPerson(gh, 'cli-target@example.com');
  const admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);

  const consoleResults: Array<{ ok: boolean; state?: State; text?: string }> = [];
  for (const a of ACTIONS) {
    const res = await admin.submit(`/people/${viaConsole}/${a.console}`, `/people/${viaConsole}`, {});
    consoleResults.push(res.status === 303 ? { ok: true, state: await stateOf(gh, viaConsole) } : { ok: false, text: `${res.status} ${await res.text()}` });
  }
  // Refusals the table does not hold: an unknown person, and the last administrator's own mark.
  const unknown = await admin.submit('/people/no-such-person/disable', '/people', {});
  const lastAdmin = await admin.submit(`/people/${adminId}/unmake-admin`, `/people/${adminId}`, {});
  const rotated = await admin.submit('/keys/rotate', '/keys', {});
  expect(rotated.status).toBe(303);
  // The console shows the mark and its buttons for a password account.
  expect((await admin.page(`/people/${viaConsole}`)).html).toContain('>Make administrator</button>');
  expect((await admin.page(`/people/${adminId}`)).html).toContain('>Remove administrator mark</button>');

  // The embedded database belongs to one process: the CLI runs while no server holds it.
  await gh.close();
  gh = undefined;
  const cliResults: Array<{ ok: boolean; state?: State; stderr?: string }> = [];
  for (const a of ACTIONS) {
    const run = await runCli(['user', a.cli, viaCli, '--json'], db.env);
    if (run.code !== 0) {
      cliResults.push({ ok: false, stderr: run.stderr });
      continue;
    }
    // The admin API's answer: the person, or (disable, revoke-grants) `{person, grants_revoked}`.
    const out = oneJson(run.stdout);
    const p = (out.person ?? out) as Record<string, unknown>;
    cliResults.push({ ok: true, state: { disabled: p.disabled as boolean, localAdmin: p.local_admin as boolean | null } });
  }
  const cliUnknown = await runCli(['user', 'disable', 'no-such-person', '--json'], db.env);
  const cliLastAdmin = await runCli(['user', 'unmake-admin', ADMIN.email, '--json'], db.env);
  const cliRotated = await runCli(['keys', 'rotate', '--json'], db.env);
  expect(cliRotated.code).toBe(0);
  gh = await startTestServer(db.env);

  ACTIONS.forEach((a, i) => {
    if (a.ok) {
      expect(consoleResults[i]).toEqual({ ok: true, state: a.state });
      expect(cliResults[i]).toEqual({ ok: true, state: a.state });
    } else {
      expect(consoleResults[i]).toEqual({ ok: false, text: expect.stringMatching(new RegExp(`^409 [\\s\\S]*${a.reason}`)) });
      expect(cliResults[i]).toEqual({ ok: false, stderr: expect.stringContaining(a.reason) });
    }
  });
  expect(unknown.status).toBe(404);
  expect(cliUnknown.code).toBe(1);
  expect(cliUnknown.stderr).toMatch(/no such person/);
  expect(lastAdmin.status).toBe(409);
  expect(await lastAdmin.text()).toContain('This is the last administrator');
  expect(cliLastAdmin.code).toBe(1);
  expect(cliLastAdmin.stderr).toContain('This is the last administrator');
  expect((await gh.services.users.findById(adminId))!.isAdmin).toBe(true);

  const person = (id: string) => (q: ReturnType<TestServer['services']['handle']['db']>) => q.whereRaw(`(details::jsonb ->> 'accountId') = ?`, [id]);
  const fromConsole = await rows(gh, person(viaConsole));
  const fromCli = await rows(gh, person(viaCli));
  expect(fromConsole.map((r) => r.row)).toEqual(fromCli.map((r) => r.row));
  expect(fromConsole.map((r) => r.row.type)).toEqual(TYPES);
  expect(fromConsole.map((r) => r.row.outcome)).toEqual(ACTIONS.map((a) => (a.ok ? 'success' : 'failure')));
  expect(fromConsole.every((r) => r.via === 'person' && r.actor === ADMIN.email && r.actorId === adminId)).toBe(true);
  expect(fromCli.every((r) => r.via === 'cli' && r.actor === 'cli' && r.actorId === 'cli')).toBe(true);

  // The last administrator's refusal: one failure each, the same but for the actor.
  const lastAdminRows = await rows(gh, (q) => person(adminId)(q).where({ type: 'person.admin_revoked' }));
  expect(lastAdminRows.map((r) => r.row)).toEqual([lastAdminRows[0]!.row, lastAdminRows[0]!.row]);
  expect(lastAdminRows.map((r) => [r.row.outcome, r.via])).toEqual([['failure', 'person'], ['failure', 'cli']]);

  // Key rotation: one `keys.rotated` per rotation, whichever adapter; no `console.keys.rotated` any more.
  const keyRows = await rows(gh, (q) => q.where('type', 'like', '%keys.rotated'));
  expect(keyRows.map((r) => [r.row.type, r.row.outcome, r.via, r.actor])).toEqual([['keys.rotated', 'success', 'person', ADMIN.email], ['keys.rotated', 'success', 'cli', 'cli']]);
  expect(keyRows[0]!.row).toEqual(keyRows[1]!.row);
  const oldTypes = await gh.services.handle.db('audit_events').where((q) => q.where('type', 'like', 'console.person.%').orWhere('type', 'like', 'console.grant%').orWhere('type', 'like', 'console.keys.%')).pluck('type');
  expect(oldTypes).toEqual([]);
}, 600_000);
