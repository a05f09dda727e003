// Each MCP server's last tool inventory (docs/MCP-SERVER-REPORTING.md, "PUT /mcp-server/inventory"). This module
// owns `mcp_server_inventories`: a report replaces the row whole; a report that adds or removes a tool, or changes
// a tool's rule or annotations, is audited as `mcp_server.inventory.changed` in the same transaction; one that
// changes nothing only moves `reported_at`. A removed resource takes its row with it (foreign key, on delete
// cascade: migrations/20261216_009_mcp_server_reports.ts).
import type { AuditLog } from '../audit/writer.js';
import type { Db } from '../db/connection.js';
import { storable } from '../db/storable-text.js';
import { inTransaction } from '../db/transaction-scope.js';
import { effectiveHints, HINTS, type Inventory, type InventoryTool } from './inventory-flags.js';
import type { Reporter } from './reporter-client.js';
import type { InventoryBody } from './report-schemas.js';

/** What the console keeps of a description (the contract admits 10,000 characters). */
const STORED_DESCRIPTION = 1000;
/** Names listed per kind in the audit row's details (the writer clips to 100 items anyway). */
const NAMES_AUDITED = 50;

interface Row {
  resource: string;
  tools: InventoryTool[] | string;
  policy: Inventory['policy'] | string;
  kit: Inventory['kit'] | string;
  reported_by: string;
  reported_at: Date | string;
  changed_at: Date | string;
}

const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

const toInventory = (r: Row): Inventory => ({
  resource: r.resource,
  tools: json(r.tools),
  policy: json(r.policy),
  kit: json(r.kit) ?? null,
  reportedBy: r.reported_by,
  reportedAt: new Date(r.reported_at),
  changedAt: new Date(r.changed_at),
});


function storedTool(t: InventoryBody['tools'][number]): InventoryTool {
  const annotations = t.annotations ? Object.fromEntries(HINTS.filter((h) => t.annotations![h] !== undefined).map((h) => [h, t.annotations![h]])) : undefined;
  return {
    name: t.name,
    ...(t.title !== undefined ? { title: t.title } : {}),
    ...(t.description !== undefined ? { description: storable(t.description.slice(0, STORED_DESCRIPTION)) } : {}),
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
    scopes: t.scopes,
  };
}

/** The part of a tool whose change is audited: its rule (alternatives in any order) and its effective hints. */
function ruleKey(t: InventoryTool): string {
  const alternatives = t.scopes.map((alt) => [...new Set(alt)].sort().join(' ')).sort();
  // An absent hint and MCP's default given explicitly are one rule, not a change.
  const effective = effectiveHints(t.annotations);
  const hints = HINTS.map((h) => effective[h]);
  return JSON.stringify([alternatives, hints]);
}

interface InventoryDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

function diffTools(before: readonly InventoryTool[], after: readonly InventoryTool[]): InventoryDiff {
  const old = new Map(before.map((t) => [t.name, ruleKey(t)]));
  const now = new Map(after.map((t) => [t.name, ruleKey(t)]));
  return {
    added: [...now.keys()].filter((n) => !old.has(n)).sort(),
    removed: [...old.keys()].filter((n) => !now.has(n)).sort(),
    changed: [...now].filter(([n, key]) => old.has(n) && old.get(n) !== key).map(([n]) => n).sort(),
  };
}

export class McpServerInventories {
  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
  ) {}

  async find(resource: string): Promise<Inventory | undefined> {
    const row = (await this.db('mcp_server_inventories').where({ resource }).first()) as Row | undefined;
    return row ? toInventory(row) : undefined;
  }

  /** Every stored inventory by resource (the server list and the Overview: one row per registered MCP server). */
  async all(): Promise<Map<string, Inventory>> {
    const rows = (await this.db('mcp_server_inventories').select()) as Row[];
    return new Map(rows.map((r) => [r.resource, toInventory(r)]));
  }

  /** Replaces the reporter's inventory; audits a change. */
  async replace(reporter: Reporter, body: InventoryBody, ip: { ip?: string | undefined; userAgent?: string | undefined }, now = new Date()): Promise<{ changed: boolean; tools: number; reportedAt: Date }> {
    const tools = body.tools.map(storedTool);
    return inTransaction(this.db, async (trx) => {
      // Locks the row so two reports of one server compute their change against each other in turn.
      const previousRow = (await trx('mcp_server_inventories').where({ resource: reporter.resource }).forUpdate().first()) as Row | undefined;
      const previous = previousRow ? toInventory(previousRow) : undefined;
      const diff = diffTools(previous?.tools ?? [], tools);
      const changed = !previous || diff.added.length + diff.removed.length + diff.changed.length > 0;
      const row = {
        resource: reporter.resource,
        tools: JSON.stringify(tools),
        policy: JSON.stringify(body.policy),
        kit: body.kit ? JSON.stringify(body.kit) : null,
        reported_by: reporter.clientId,
        reported_at: now,
        changed_at: changed ? now : previous!.changedAt,
      };
      await trx('mcp_server_inventories').insert(row).onConflict('resource').merge();
      if (changed) {
        await this.audit.record({
          type: 'mcp_server.inventory.changed',
          outcome: 'success',
          actor: reporter.clientId,
          clientId: reporter.clientId,
          resource: reporter.resource,
          ...ip,
          details: {
            first_report: !previous,
            tools: tools.length,
            added: diff.added.slice(0, NAMES_AUDITED),
            removed: diff.removed.slice(0, NAMES_AUDITED),
            changed: diff.changed.slice(0, NAMES_AUDITED),
            ...([diff.added, diff.removed, diff.changed].some((names) => names.length > NAMES_AUDITED) ? { clipped: true } : {}),
          },
        });
      }
      return { changed, tools: tools.length, reportedAt: now };
    });
  }
}
