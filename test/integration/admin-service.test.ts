// The admin service layer (docs/ARCHITECTURE.md, "The admin service layer"): the same client action through the
// console and through the CLI gives the same result, the same refusal and the same audit event — only the actor and
// `details.via` differ. Table-driven over approve, approve again (refused: not pending), disable, enable.
import { oneJson, runCli } from '../helpers/cli.js';
import { consoleSignIn } from '../helpers/console.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { registerPublicClient } from '../helpers/browser-flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple', isAdmin: true };
const REDIRECT = 'http://127.0.0.1:45123/cb';

let db: TestDatabase;
let gh: TestServer | undefined;

type Row = { type: string; outcome: string; actor: string; client_id: string; reason: string | null; details: Record<string, unknown> | string };
const ACTIONS = [
  { action: 'approve', ok: true, status: 'active' },
  { action: 'approve', ok: false, reason: 'This client is not waiting for approval.' },
  { action: 'disable', ok: true, status: 'disabled' },
  { action: 'enable', ok: true, status: 'active' },
] as const;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
});

it('console and CLI: same results, same refusals, same audit events', async () => {
  gh = await startTestServer(db.env);
  await gh.services.users.create(ADMIN);
  await gh.services.policy.set('REGISTRATION', 'approval', 'test');
  const viaConsole = (await registerPublicClient(gh.issuer, [REDIRECT])).client_id;
  const viaCli = (await registerPublicClient(gh.issuer, [REDIRECT])).client_id;
  const admin = await consoleSignIn(gh.issuer, ADMIN.email, ADMIN.password);
  const consoleResults: Array<{ ok: boolean; status?: string }> = [];
  for (const { action } of ACTIONS) {
    const res = await admin.submit(`/clients/${encodeURIComponent(viaConsole)}/${action}`, `/clients/${encodeURIComponent(viaConsole)}`, {});
    consoleResults.push({ ok: res.status === 303, ...(res.status === 303 ? { status: (await gh.services.registry.find(viaConsole))!.status } : {}) });
  }
  // The embedded database belongs to one process: the CLI runs while no server holds it.
  await gh.close();
  gh = undefined;
  const cliResults: Array<{ ok: boolean; status?: string; stderr?: string }> = [];
  for (const { action } of ACTIONS) {
    const run = await runCli(['client', action, viaCli, '--json'], db.env);
    cliResults.push(run.code === 0 ? { ok: true, status: oneJson(run.stdout).status as string } : { ok: false, stderr: run.stderr });
  }
  gh = await startTestServer(db.env);

  ACTIONS.forEach((a, i) => {
    expect(consoleResults[i]).toEqual({ ok: a.ok, ...(a.ok ? { status: a.status } : {}) });
    expect(cliResults[i]).toMatchObject({ ok: a.ok, ...(a.ok ? { status: a.status } : { stderr: expect.stringContaining(a.reason) }) });
  });
  const rows = async (clientId: string) =>
    ((await gh!.services.handle.db('audit_events').where({ client_id: clientId }).where('type', 'like', 'client.%').orderBy('id', 'asc')) as Row[]).map((r) => {
      const { via, actorId: _id, adminId: _admin, ...details } = typeof r.details === 'string' ? JSON.parse(r.details) : r.details;
      return { row: { type: r.type, outcome: r.outcome, reason: r.reason, details }, via, actor: r.actor };
    });
  const fromConsole = await rows(viaConsole);
  const fromCli = await rows(viaCli);
  expect(fromConsole.map((r) => r.row)).toEqual(fromCli.map((r) => r.row));
  expect(fromConsole.map((r) => r.row.type)).toEqual(['client.approved', 'client.approved', 'client.disabled', 'client.enabled']);
  expect(fromConsole.map((r) => r.row.outcome)).toEqual(['success', 'failure', 'success', 'success']);
  expect(fromConsole.every((r) => r.via === 'person' && r.actor === ADMIN.email)).toBe(true);
  expect(fromCli.every((r) => r.via === 'cli' && r.actor === 'cli')).toBe(true);
}, 120_000);
