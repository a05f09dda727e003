// What the console shows of an MCP server's reports (docs/MCP-SERVER-REPORTING.md): its last tool inventory with
// the flags of reporting/inventory-flags.ts, for the server's page, and a flag count for the server list and the
// Overview. The rules live in reporting/; this only turns them into what the templates print.
import { effectiveHints, inventoryFlags, mayBeDestructive, type Inventory, type ToolFlag } from '../reporting/inventory-flags.js';
import type { Resource } from '../oauth/resources.js';

export const FLAG_LABELS: Record<ToolFlag | 'no_longer_reported' | 'silent' | 'never_reported', string> = {
  no_scope: 'no scope',
  destructive_behind_read: 'destructive behind a read scope',
  not_in_catalogue: 'not in the catalogue',
  no_longer_reported: 'no longer reported',
  silent: 'silent',
  never_reported: 'never reported',
};

const when = (d: Date) => ({ iso: d.toISOString(), text: d.toISOString().slice(0, 16).replace('T', ' ') });

/** The hints a person needs to read, with MCP's defaults applied to absent ones. */
function hintLabels(t: Inventory['tools'][number]): string[] {
  const h = effectiveHints(t.annotations);
  return [
    h.readOnlyHint ? 'read-only' : mayBeDestructive(h) ? 'may be destructive' : 'not destructive',
    ...(h.idempotentHint ? ['idempotent'] : []),
    h.openWorldHint ? 'open world' : 'closed world',
  ];
}

export function reportFacts(r: Resource, inventory: Inventory | undefined, now = new Date()) {
  const flags = inventoryFlags(inventory, r.catalogue, now);
  return {
    flags: { silent: flags.silent, neverReported: flags.neverReported, noLongerReported: flags.noLongerReported },
    count: flags.count,
    silent: flags.silent,
    inventory: inventory && {
      reportedAt: when(inventory.reportedAt),
      changedAt: when(inventory.changedAt),
      reporter: inventory.reportedBy,
      kit: inventory.kit ? [inventory.kit.name, inventory.kit.version].filter(Boolean).join(' ') : '',
      unmappedTools: inventory.policy.unmapped_tools,
      requiredScopes: inventory.policy.required_scopes,
      tools: inventory.tools.map((t) => ({
        name: t.name,
        title: t.title ?? '',
        description: t.description ?? '',
        scopes: t.scopes.map((alt) => alt.join(' + ')),
        hints: hintLabels(t),
        flags: (Object.hasOwn(flags.tools, t.name) ? flags.tools[t.name]! : []).map((f) => FLAG_LABELS[f]),
      })),
    },
  };
}

/** The badge of the server list and the Overview: silent, and how many other flags. */
export function listBadge(facts: ReturnType<typeof reportFacts>): { silent: boolean; flags: number } {
  return { silent: facts.silent, flags: facts.count - (facts.silent ? 1 : 0) };
}
