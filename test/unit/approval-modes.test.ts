// Which tools need a person's approval (docs/TOOL-APPROVALS.md, "Which tools need approval"): the strictest mark wins,
// whichever source it comes from, and the console's warning when the server's kit does not enforce approvals.
import { approvalModes, reportsApprovalEnforcement, stricter } from '../../src/approvals/modes.js';
import type { Resource } from '../../src/oauth/resources.js';

const resource = (over: Partial<Resource> = {}): Resource => ({
  uri: 'https://notes.example.test/mcp',
  name: 'Notes',
  description: null,
  scopes: {},
  catalogue: {
    'notes:write': { description: 'Change', tools: ['edit_note', 'delete_note'], approval: 'once-per-grant' },
    'notes:admin': { description: 'Admin', tools: ['delete_note', 'purge'] },
  },
  toolApproval: { purge: 'each-call' },
  isDefault: false,
  delegation: { connections: {}, resources: {} },
  managedBy: null,
  ...over,
});

describe('approval modes', () => {
  it('each-call is stricter than once-per-grant, which is stricter than none', () => {
    expect(stricter(undefined, 'once-per-grant')).toBe('once-per-grant');
    expect(stricter('once-per-grant', 'each-call')).toBe('each-call');
    expect(stricter('each-call', 'once-per-grant')).toBe('each-call');
    expect(stricter(undefined, undefined)).toBeUndefined();
  });

  it('takes the strictest of the tool\'s mark and every scope listing it', () => {
    expect(approvalModes(resource(), undefined)).toEqual({ edit_note: 'once-per-grant', delete_note: 'once-per-grant', purge: 'each-call' });
    expect(approvalModes(resource({ toolApproval: { edit_note: 'each-call' } }), undefined)).toEqual({ edit_note: 'each-call', delete_note: 'once-per-grant' });
  });

  it('marks the tools the inventory reports as possibly destructive (MCP\'s default hints) only when asked to', () => {
    const tools = [
      { name: 'wipe', scopes: [] },
      { name: 'list', annotations: { readOnlyHint: true }, scopes: [] },
      { name: 'tag', annotations: { destructiveHint: false }, scopes: [] },
      { name: 'edit_note', scopes: [] },
    ];
    expect(approvalModes(resource(), { tools })).not.toHaveProperty('wipe');
    expect(approvalModes(resource({ destructiveToolsApproval: 'each-call' }), { tools })).toEqual({ edit_note: 'each-call', delete_note: 'once-per-grant', purge: 'each-call', wipe: 'each-call' });
  });

  it('a tool named like an Object.prototype member is an ordinary tool', () => {
    const modes = approvalModes(resource({ catalogue: {}, toolApproval: { __proto__: 'each-call', constructor: 'once-per-grant' } as never }), undefined);
    expect(Object.hasOwn(modes, 'constructor')).toBe(true);
    expect(Object.hasOwn(modes, 'toString')).toBe(false);
  });

  it('only a report from kit 0.3.0 or later shows approvals are enforced', () => {
    const kit = (name: string, version?: string) => ({ kit: { name, version } });
    expect(reportsApprovalEnforcement(undefined)).toBe(false);
    expect(reportsApprovalEnforcement({ kit: null })).toBe(false);
    expect(reportsApprovalEnforcement(kit('@gatehouse/resource-server', '0.2.0'))).toBe(false);
    expect(reportsApprovalEnforcement(kit('@gatehouse/resource-server', '0.3.0'))).toBe(true);
    expect(reportsApprovalEnforcement(kit('@gatehouse/resource-server', '0.10.1'))).toBe(true);
    expect(reportsApprovalEnforcement(kit('@gatehouse/resource-server', '1.0.0-rc.1'))).toBe(true);
    expect(reportsApprovalEnforcement(kit('my-own-kit', '9.9.9'))).toBe(false);
    expect(reportsApprovalEnforcement(kit('@gatehouse/resource-server'))).toBe(false);
  });
});
