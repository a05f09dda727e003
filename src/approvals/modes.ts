// Which tools of an MCP server need a person's approval, and how often (docs/TOOL-APPROVALS.md, "Which tools need
// approval"): the strictest of the tool's own mark, the marks of every scope that lists it, and — when the server
// asks for it — the mark for tools its inventory reports as possibly destructive under MCP's default hints. A pure
// function of the catalogue and the inventory, so the public catalogue and the approval endpoint cannot disagree.
import type { ApprovalMode, Resource } from '../oauth/resources.js';
import { mayBeDestructive, type Inventory } from '../reporting/inventory-flags.js';

const RANK: Record<ApprovalMode, number> = { 'once-per-grant': 1, 'each-call': 2 };

export function stricter(a: ApprovalMode | undefined, b: ApprovalMode | undefined): ApprovalMode | undefined {
  if (!a) return b;
  if (!b) return a;
  return RANK[b] > RANK[a] ? b : a;
}

/** Tool name → the approval its calls need; a tool that needs none is absent. */
export function approvalModes(resource: Resource, inventory: Pick<Inventory, 'tools'> | undefined): Record<string, ApprovalMode> {
  const modes: Record<string, ApprovalMode> = Object.create(null) as Record<string, ApprovalMode>;
  const mark = (tool: string, mode: ApprovalMode | undefined) => {
    const m = stricter(modes[tool], mode);
    if (m) modes[tool] = m;
  };
  for (const [tool, mode] of Object.entries(resource.toolApproval)) mark(tool, mode);
  for (const entry of Object.values(resource.catalogue)) if (entry.approval) for (const tool of entry.tools) mark(tool, entry.approval);
  if (resource.destructiveToolsApproval && inventory) {
    for (const tool of inventory.tools) if (mayBeDestructive(tool.annotations)) mark(tool.name, resource.destructiveToolsApproval);
  }
  return { ...modes };
}

/** The first kit release that enforces approvals (packages/resource-server, 0.3.0). */
const FIRST_ENFORCING_KIT = [0, 3, 0];

/**
 * Whether the server's last report says it runs a kit that enforces approvals: `@gatehouse/resource-server` 0.3.0 or
 * later. Anything else (no report, another implementation, an older kit) has not shown it does.
 */
export function reportsApprovalEnforcement(inventory: Pick<Inventory, 'kit'> | undefined): boolean {
  const kit = inventory?.kit;
  if (kit?.name !== '@gatehouse/resource-server' || !kit.version) return false;
  const parts = /^(\d+)\.(\d+)\.(\d+)/.exec(kit.version)?.slice(1).map(Number);
  if (!parts) return false;
  for (let i = 0; i < 3; i++) if (parts[i] !== FIRST_ENFORCING_KIT[i]) return parts[i]! > FIRST_ENFORCING_KIT[i]!;
  return true;
}
