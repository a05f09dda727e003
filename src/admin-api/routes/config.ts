// The configuration file through the admin API (docs/ADMIN-API.md, "The CLI"; docs/CONFIG-FILE.md): plan and apply
// for the CLI beside a server that holds the embedded database, and export for anyone who may read. Plan and apply
// take the file's text and resolve its secret references on the server's host, as the apply at start does, so
// they are the server's own CLI's alone (the local key): an API client elsewhere applies a file by changing it where
// the server reads it, or through the operations of each object.
import { z } from 'zod';
import { CallerRefusal } from '../caller.js';
import { operation, type Operation } from '../operation.js';
import type { Actor } from '../../admin/actor.js';

const Change = z
  .object({
    action: z.enum(['add', 'update', 'remove']),
    kind: z.enum(['mcp_server', 'client', 'connection', 'policy']),
    id: z.string(),
    fields: z.array(z.string()).optional(),
    replace: z.literal(true).optional(),
  })
  .meta({ id: 'ConfigChange' });

const FileText = z
  .object({
    path: z.string().min(1).max(4096).meta({ description: 'Where the file is, on the server\'s host (its name marks what it manages; {file: …} references are relative to it).' }),
    content: z.string().max(60_000).meta({ description: 'The file\'s text (YAML, or JSON when the path ends in .json).' }),
  })
  .strict();

function serverCliOnly(actor: Actor): void {
  if (actor.kind !== 'cli') throw new CallerRefusal(403, 'access_denied', 'Plan and apply through the API are for the server\'s own CLI (its local key): the file\'s secret references are resolved on the server\'s host.', true, actor.label);
}

export const configOperations: Operation[] = [
  operation(
    { id: 'planConfig', method: 'post', path: '/config/plan', tag: 'Configuration file', summary: 'What applying a configuration file would change', scope: 'admin:read', status: 200, body: FileText, response: z.object({ file: z.string(), changes: z.array(Change) }).meta({ id: 'ConfigPlan' }) },
    async ({ body, actor, services }) => {
      serverCliOnly(actor);
      return { body: { file: body.path, changes: await services.configFile.plan(actor, body.path, body.content) } };
    },
  ),
  operation(
    { id: 'applyConfig', method: 'post', path: '/config/apply', tag: 'Configuration file', summary: 'Apply a configuration file (each change audited with the actor "config")', scope: 'admin:write', status: 200, body: FileText, response: z.object({ file: z.string(), applied: z.array(Change) }).meta({ id: 'ConfigApplied' }) },
    async ({ body, actor, services }) => {
      serverCliOnly(actor);
      return { body: { file: body.path, applied: await services.configFile.apply(actor, body.path, body.content) } };
    },
  ),
  operation(
    { id: 'exportConfig', method: 'get', path: '/config/export', tag: 'Configuration file', summary: 'The current state as a configuration file (no secrets)', scope: 'admin:read', status: 200, response: z.record(z.string(), z.unknown()).meta({ id: 'ConfigExport' }) },
    async ({ services }) => ({ body: await services.configFile.export() }),
  ),
];
