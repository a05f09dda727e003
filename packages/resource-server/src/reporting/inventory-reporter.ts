// The live tool inventory (docs/MCP-SERVER-REPORTING.md, PUT /mcp-server/inventory): the server's tools as it
// declares them (name, title, description, MCP annotations) with the rule the kit enforces for each — so Gatehouse's
// console can put what the server exposes next to what the catalogue promises. Sent when the server reports its
// tools, again whenever the list or a rule changes, and at least hourly (Gatehouse flags a server silent after a
// day; the hourly report also carries rules the catalogue changed since). A failed report is retried with backoff, never thrown at the server.
import { backoffMs, type GatehouseApi } from './gatehouse-api.js';

/** What a server says about one tool: the shape of an entry of MCP's `tools/list` result (extra fields ignored). */
export interface ToolDescription {
  name: string;
  title?: string | undefined;
  description?: string | undefined;
  annotations?: {
    title?: string | undefined;
    readOnlyHint?: boolean | undefined;
    destructiveHint?: boolean | undefined;
    idempotentHint?: boolean | undefined;
    openWorldHint?: boolean | undefined;
  } | undefined;
}

export interface InventoryPolicy {
  /** The rule for a tool: alternatives of scopes, [] when it has none; undefined when the rules are not known yet. */
  rulesFor(): Promise<((tool: string) => readonly (readonly string[])[]) | undefined>;
  unmappedTools: 'allow' | 'deny';
  requiredScopes: readonly string[];
}

const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;
export const KIT = { name: '@gatehouse/resource-server', version: '0.3.0' } as const;

/** The report's entry for one tool: only the fields the API takes, each within its bounds. */
function entry(tool: ToolDescription, scopes: readonly (readonly string[])[]) {
  const annotations = Object.fromEntries(HINTS.filter((h) => typeof tool.annotations?.[h] === 'boolean').map((h) => [h, tool.annotations![h]]));
  const title = tool.title ?? tool.annotations?.title;
  return {
    name: tool.name,
    ...(typeof title === 'string' ? { title: title.slice(0, 256) } : {}),
    ...(typeof tool.description === 'string' ? { description: tool.description.slice(0, 10_000) } : {}),
    annotations,
    scopes: scopes.map((alt) => [...alt]),
  };
}

export function checkTools(tools: readonly ToolDescription[]): void {
  if (!Array.isArray(tools)) throw new TypeError('reportTools: pass an array of tools ({ name, description?, annotations? })');
  const names = new Set<string>();
  for (const t of tools) {
    if (typeof t?.name !== 'string' || t.name.length < 1 || t.name.length > 256) throw new TypeError('reportTools: every tool needs a name of 1 to 256 characters');
    if (names.has(t.name)) throw new TypeError(`reportTools: ${t.name} is listed twice`);
    names.add(t.name);
  }
  if (tools.length > 1000) throw new TypeError('reportTools: at most 1,000 tools');
}

const HOUR = 3_600_000;

export class InventoryReporter {
  #tools: readonly ToolDescription[] | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #next: Promise<boolean> | undefined;
  #closed = false;

  constructor(
    private readonly api: GatehouseApi,
    private readonly policy: InventoryPolicy,
    private readonly options: { heartbeatMs?: number | undefined; onError?: ((err: Error) => void) | undefined } = {},
  ) {}

  /** Replaces the tool list and reports it; resolves whether Gatehouse has it (a failure is retried meanwhile). */
  report(tools: readonly ToolDescription[]): Promise<boolean> {
    checkTools(tools);
    this.#tools = tools.map((t) => ({ ...t, annotations: t.annotations ? { ...t.annotations } : undefined }));
    return this.#run();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /** One report at a time; a report asked for meanwhile runs right after, with the latest list. */
  #run(): Promise<boolean> {
    if (this.#running) {
      this.#next ??= this.#running.then(() => {
        this.#next = undefined;
        return this.#run();
      });
      return this.#next;
    }
    this.#running = this.#send().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #send(): Promise<boolean> {
    clearTimeout(this.#timer);
    if (this.#closed || !this.#tools) return false;
    const rulesFor = await this.policy.rulesFor();
    if (!rulesFor) {
      this.options.onError?.(new Error('report: the tool rules are not known yet (catalogue unavailable); the inventory will be sent later'));
      return this.#retry();
    }
    const body = {
      kit: KIT,
      policy: { unmapped_tools: this.policy.unmappedTools, required_scopes: [...this.policy.requiredScopes] },
      tools: this.#tools.map((t) => entry(t, rulesFor(t.name))),
    };
    const result = await this.api.putInventory(body);
    if (!result.ok) {
      this.options.onError?.(result.error);
      return result.retry ? this.#retry() : false;
    }
    this.#attempt = 0;
    this.#wake(this.options.heartbeatMs ?? HOUR);
    return true;
  }

  #retry(): false {
    this.#wake(backoffMs(this.#attempt++, 1000, 300_000));
    return false;
  }

  #wake(ms: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#run(), ms);
    this.#timer.unref();
  }
}
