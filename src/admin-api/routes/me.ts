// Who the admin API takes the caller for (docs/ADMIN-API.md): the CLI's `whoami`, and a console session's way to
// read its CSRF token for changes.
import { z } from 'zod';
import { operation, type Operation } from '../operation.js';

export const meOperations: Operation[] = [
  operation(
    {
      id: 'whoAmI', method: 'get', path: '/me', tag: 'Session', summary: 'The caller, as the audit log will name it', scope: 'admin:read', status: 200,
      response: z.object({ kind: z.enum(['person', 'api_client']), id: z.string(), label: z.string() }).meta({ id: 'Caller' }),
    },
    async ({ actor }) => ({ body: { kind: actor.kind === 'person' ? 'person' : 'api_client', id: actor.id, label: actor.label } }),
  ),
];
