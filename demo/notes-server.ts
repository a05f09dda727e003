// The demo MCP server: a small notes service (Streamable HTTP, the official MCP SDK) protected by Gatehouse's
// resource-server kit. Reading needs notes:read, adding notes:write, deleting its own scope notes:delete — so a client
// that only asked to read must step up before it can delete. The same server backs the end-to-end tests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
// As an MCP server author imports it: the package by name (the workspace links it; its dist/ is built by npm install).
import { protectedResource, type Identity, type ProtectedResource, type ReportOptions } from '@gatehouse/resource-server';

/** The catalogue Gatehouse is told about (RESOURCES): scopes, what they mean, the tools each unlocks. */
export const NOTES_SCOPES = {
  'notes:read': { description: 'List and read your notes', tools: ['list_notes', 'read_note', 'whoami'] },
  'notes:write': { description: 'Add notes', tools: ['add_note'] },
  'notes:delete': { description: 'Delete notes', tools: ['delete_note'] },
};

/** Tools a person must approve call by call (RESOURCES `tool_approval`; docs/TOOL-APPROVALS.md): deleting a note. */
export const NOTES_APPROVALS = { delete_note: 'each-call' } as const;

export interface NotesServer {
  url: string; // the MCP endpoint, which is also the resource URI
  /** The kit's guard (its reporting counters, in tests). */
  guard: ProtectedResource;
  close(): Promise<void>;
}

export interface NotesServerOptions {
  issuer: string;
  port?: number;
  host?: string;
  /** The resource URI as registered at Gatehouse; default http://<host>:<port>/mcp. */
  resource?: string;
  fetch?: typeof fetch;
  /** The notes server's own confidential client at Gatehouse: then it reports its tools and every tool call. */
  report?: { clientId: string; clientSecret: string } & Partial<ReportOptions>;
  /** What the kit reports going wrong (an unreachable Gatehouse, a refused report); never tokens. */
  onError?: (err: Error) => void;
}

type Notes = Map<number, { id: number; text: string; owner: string }>;

/**
 * The server's tools, declared once: registered with the MCP SDK for each request, and reported to Gatehouse as
 * its inventory (name, description, MCP annotations), so what the console shows is what this server runs.
 */
function notesTools(notes: Notes, nextId: () => number) {
  return (who?: Identity) => [
    {
      name: 'whoami',
      description: 'Who the access token says you are',
      annotations: { readOnlyHint: true },
      inputSchema: undefined,
      run: async () => ({ content: [{ type: 'text', text: JSON.stringify({ sub: who?.sub, client_id: who?.clientId, scopes: who?.scopes, email: who?.email }) }] }),
    },
    {
      name: 'list_notes',
      description: 'List your notes',
      annotations: { readOnlyHint: true },
      inputSchema: undefined,
      run: async () => ({ content: [{ type: 'text', text: JSON.stringify([...notes.values()].filter((n) => n.owner === who?.sub)) }] }),
    },
    {
      name: 'read_note',
      description: 'Read one note',
      annotations: { readOnlyHint: true },
      inputSchema: { id: z.number().int() },
      run: async ({ id }: { id: number }) => {
        const note = notes.get(id);
        return note && note.owner === who?.sub ? { content: [{ type: 'text', text: note.text }] } : { content: [{ type: 'text', text: `no note ${id}` }], isError: true };
      },
    },
    {
      name: 'add_note',
      description: 'Add a note',
      annotations: { readOnlyHint: false, destructiveHint: false },
      inputSchema: { text: z.string().min(1).max(2000) },
      run: async ({ text }: { text: string }) => {
        const note = { id: nextId(), text, owner: who?.sub ?? '' };
        notes.set(note.id, note);
        return { content: [{ type: 'text', text: JSON.stringify(note) }] };
      },
    },
    {
      name: 'delete_note',
      description: 'Delete a note (needs notes:delete)',
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
      inputSchema: { id: z.number().int() },
      run: async ({ id }: { id: number }) => {
        const note = notes.get(id);
        if (!note || note.owner !== who?.sub) return { content: [{ type: 'text', text: `no note ${id}` }], isError: true };
        notes.delete(id);
        return { content: [{ type: 'text', text: `deleted note ${id}` }] };
      },
    },
  ];
}

export async function startNotesServer(options: NotesServerOptions): Promise<NotesServer> {
  const host = options.host ?? '127.0.0.1';
  const notes: Notes = new Map();
  let nextId = 1;
  const tools = notesTools(notes, () => nextId++);
  let resource = options.resource ?? '';
  let guard: ProtectedResource | undefined;

  const server: Server = createServer(async (req, res) => {
    const auth = await guard!.authenticate(req, res);
    if (!auth) return; // the kit answered: metadata, preflight, 401 or 403
    if (new URL(req.url ?? '/', 'http://x').pathname !== new URL(resource).pathname) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const mcp = new McpServer({ name: 'gatehouse-demo-notes', version: '1.0.0' });
    for (const tool of tools(auth.identity)) mcp.registerTool(tool.name, { description: tool.description, annotations: tool.annotations, inputSchema: tool.inputSchema as never }, tool.run as never);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, auth.body);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  resource ||= `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}/mcp`;
  // The tool→scope rules come from Gatehouse's catalogue for this resource (NOTES_SCOPES maps every tool registered
  // above: a tool left out of it would be refused, deny by default); notes:read is the baseline every request needs,
  // so a client starts with it and steps up for writing or deleting. This server serves no resources or prompts, so
  // it maps none and `resources/read` and `prompts/get` are refused (the kit's default).
  // With `report`, the kit tells Gatehouse which tools this server runs and ships an audit event for every call.
  guard = protectedResource({
    issuer: options.issuer,
    resource,
    requiredScopes: ['notes:read'],
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.report ? { report: options.report } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  if (options.report) void guard.reportTools(tools().map(({ name, description, annotations }) => ({ name, description, annotations })));
  const running = guard;
  return {
    url: resource,
    guard: running,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await running.close(); // the tool calls still queued go to Gatehouse before the process ends
    },
  };
}
