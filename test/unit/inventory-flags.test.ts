// The console's flags for an MCP server's reported tools, rule by rule (docs/MCP-SERVER-REPORTING.md, "Flags the
// console shows on the MCP server's page").
import { inventoryFlags, isReadScope, mayBeDestructive, type Inventory, type InventoryTool } from '../../src/reporting/inventory-flags.js';
import type { ScopeEntry } from '../../src/oauth/resources.js';

const NOW = new Date('2026-12-07T12:00:00Z');
const CATALOGUE: Record<string, ScopeEntry> = {
  'notes:read': { description: 'Read notes', tools: ['list_notes', 'read_note'] },
  'notes:delete': { description: 'Delete notes', tools: ['delete_note'] },
};

function inventory(tools: InventoryTool[], reportedAt = new Date(NOW.getTime() - 60_000)): Inventory {
  return { resource: 'https://notes.example.test/mcp', tools, policy: { unmapped_tools: 'deny', required_scopes: [] }, kit: null, reportedBy: 'gh_x', reportedAt, changedAt: reportedAt };
}

const readOnly = { readOnlyHint: true };

describe('inventory flags', () => {
  it('a server that never reported is silent and never reported, and nothing else', () => {
    expect(inventoryFlags(undefined, CATALOGUE, NOW)).toEqual({ tools: {}, silent: true, neverReported: true, noLongerReported: [], count: 1 });
  });

  it('a clean report has no flag', () => {
    const flags = inventoryFlags(inventory([
      { name: 'list_notes', annotations: readOnly, scopes: [['notes:read']] },
      { name: 'read_note', annotations: readOnly, scopes: [['notes:read']] },
      { name: 'delete_note', annotations: { destructiveHint: true }, scopes: [['notes:delete']] },
    ]), CATALOGUE, NOW);
    expect(flags).toEqual({ tools: {}, silent: false, neverReported: false, noLongerReported: [], count: 0 });
  });

  it('no scope: scopes [] (and an empty alternative, which any token satisfies)', () => {
    const flags = inventoryFlags(inventory([
      { name: 'list_notes', annotations: readOnly, scopes: [] },
      { name: 'read_note', annotations: readOnly, scopes: [['notes:read'], []] },
      { name: 'delete_note', annotations: { destructiveHint: false }, scopes: [['notes:delete']] },
    ]), CATALOGUE, NOW);
    expect(flags.tools).toEqual({ list_notes: ['no_scope'], read_note: ['no_scope'] });
  });

  it('destructive behind a read scope: MCP defaults make an unannotated tool destructive; an alternative of read scopes only', () => {
    const tools: InventoryTool[] = [
      { name: 'delete_note', scopes: [['notes:read']] }, // no hints: may be destructive
      { name: 'read_note', annotations: readOnly, scopes: [['notes:read']] }, // read-only: fine
      { name: 'list_notes', annotations: { destructiveHint: false }, scopes: [['notes:read']] }, // not destructive: fine
    ];
    expect(inventoryFlags(inventory(tools), CATALOGUE, NOW).tools).toEqual({ delete_note: ['destructive_behind_read'] });
    // One read-only alternative among others is enough; an alternative mixing a write scope is not read-only.
    expect(inventoryFlags(inventory([{ name: 'delete_note', scopes: [['notes:delete'], ['files.readonly', 'read']] }]), CATALOGUE, NOW).tools).toEqual({ delete_note: ['destructive_behind_read'] });
    expect(inventoryFlags(inventory([{ name: 'delete_note', scopes: [['notes:read', 'notes:delete']] }]), CATALOGUE, NOW).tools).toEqual({});
  });

  it('what a read scope is: the last : . _ - part is read or readonly, or the scope is read', () => {
    for (const s of ['read', 'notes:read', 'notes.read', 'notes_read', 'notes-read', 'files:readonly', 'a:b.READ']) expect([s, isReadScope(s)]).toEqual([s, true]);
    for (const s of ['reader', 'notes:write', 'read:notes', 'notes:reads', 'readonlyx']) expect([s, isReadScope(s)]).toEqual([s, false]);
  });

  it('MCP defaults: destructive unless readOnlyHint is true or destructiveHint is false', () => {
    expect(mayBeDestructive(undefined)).toBe(true);
    expect(mayBeDestructive({})).toBe(true);
    expect(mayBeDestructive({ readOnlyHint: false, destructiveHint: true })).toBe(true);
    expect(mayBeDestructive({ readOnlyHint: true })).toBe(false);
    expect(mayBeDestructive({ destructiveHint: false })).toBe(false);
  });

  it('not in the catalogue, and catalogue tools no longer reported', () => {
    const flags = inventoryFlags(inventory([
      { name: 'list_notes', annotations: readOnly, scopes: [['notes:read']] },
      { name: 'export_notes', annotations: readOnly, scopes: [['notes:read']] },
    ]), CATALOGUE, NOW);
    expect(flags.tools).toEqual({ export_notes: ['not_in_catalogue'] });
    expect(flags.noLongerReported).toEqual(['delete_note', 'read_note']);
    expect(flags.count).toBe(3);
  });

  it('silent: the last report is more than a day old (not at exactly a day)', () => {
    const tools: InventoryTool[] = [
      { name: 'list_notes', annotations: readOnly, scopes: [['notes:read']] },
      { name: 'read_note', annotations: readOnly, scopes: [['notes:read']] },
      { name: 'delete_note', scopes: [['notes:delete']] },
    ];
    expect(inventoryFlags(inventory(tools, new Date(NOW.getTime() - 86_400_000)), CATALOGUE, NOW).silent).toBe(false);
    const old = inventoryFlags(inventory(tools, new Date(NOW.getTime() - 86_400_001)), CATALOGUE, NOW);
    expect([old.silent, old.neverReported, old.count]).toEqual([true, false, 1]);
  });

  it('a tool named like an Object.prototype member is flagged and counted like any other', () => {
    const flags = inventoryFlags(inventory([
      { name: '__proto__', scopes: [] },
      { name: 'constructor', annotations: readOnly, scopes: [['notes:read']] },
      { name: 'list_notes', annotations: readOnly, scopes: [['notes:read']] },
      { name: 'read_note', annotations: readOnly, scopes: [['notes:read']] },
      { name: 'delete_note', annotations: { destructiveHint: true }, scopes: [['notes:delete']] },
    ]), CATALOGUE, NOW);
    expect(Object.hasOwn(flags.tools, '__proto__')).toBe(true);
    expect(flags.tools['__proto__']).toEqual(['no_scope', 'not_in_catalogue']);
    expect(flags.tools['constructor']).toEqual(['not_in_catalogue']);
    expect(flags.count).toBe(3);
  });

  it('counts every flag once: several on one tool add up', () => {
    const flags = inventoryFlags(inventory([{ name: 'wipe', scopes: [[], ['notes:read']] }], new Date(0)), CATALOGUE, NOW);
    expect(flags.tools).toEqual({ wipe: ['no_scope', 'destructive_behind_read', 'not_in_catalogue'] });
    expect(flags.count).toBe(3 + 3 + 1); // three tool flags, three catalogue tools unreported, silent
  });
});
