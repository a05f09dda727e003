// The OpenAPI 3.1 document of the admin API (docs/ADMIN-API.md), written from the operations' own zod schemas
// (zod-openapi), so it says exactly what the server validates. Served at <issuer>/admin/api/v1/openapi.json and
// checked in as docs/admin-api.openapi.json (a test fails when the two differ: `npm run openapi` rewrites it).
import { createDocument } from 'zod-openapi';
import { ErrorBody } from './schemas.js';
import type { Operation } from './operation.js';

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBody } } });

export function openApiDocument(operations: readonly Operation[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const success = op.status === 204
      ? { description: 'Done.' }
      : {
          description: op.status === 201 ? 'Created.' : 'OK.',
          ...(op.versioned ? { headers: { ETag: { description: 'The object\'s version: send it back in If-Match to change it.', schema: { type: 'string' } } } } : {}),
          content: op.produces ? { [op.produces]: { schema: { type: 'string' } } } : { 'application/json': { schema: op.response } },
        };
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      operationId: op.id,
      summary: op.summary,
      tags: [op.tag],
      security: [{ adminToken: [op.scope] }, { consoleSession: [] }],
      ...(op.params || op.query ? { requestParams: { ...(op.params ? { path: op.params } : {}), ...(op.query ? { query: op.query } : {}) } } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } } : {}),
      responses: {
        [String(op.status)]: success,
        '400': errorResponse('The request is not valid: `field` names the input at fault.'),
        '401': errorResponse('No valid access token or console session.'),
        '403': errorResponse('The token lacks the scope, or the session is not an administrator\'s.'),
        ...(op.path.includes('{') ? { '404': errorResponse('There is no such object.') } : {}),
        ...(op.body ? { '413': errorResponse('The body is larger than 64 KiB.'), '415': errorResponse('The body is not application/json.') } : {}),
        ...(op.method !== 'get' ? { '409': errorResponse('The change does not apply to the object as it is now, the version is stale, or the object is managed by the configuration file.') } : {}),
        '429': errorResponse('Too many requests.'),
      },
    };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse admin API',
      version,
      description: 'Administration of a Gatehouse authorization server. Every change goes through the same service layer as the console and the CLI and is audited once with its actor. See docs/ADMIN-API.md.',
    },
    servers: [{ url: '{issuer}/admin/api/v1', variables: { issuer: { default: 'http://localhost:3000', description: 'The ISSUER of the Gatehouse.' } } }],
    components: {
      securitySchemes: {
        adminToken: {
          type: 'oauth2',
          description: 'An access token of an admin API client (`gatehouse client add --admin-api`), from client_credentials at <issuer>/token (the tokenUrl is relative to the server URL).',
          flows: { clientCredentials: { tokenUrl: '../../token', scopes: { 'admin:read': 'Read everything the console shows.', 'admin:write': 'Change it.' } } },
        },
        consoleSession: { type: 'apiKey', in: 'cookie', name: 'gatehouse.console', description: 'An administrator\'s console session, under /console/api/v1; changes need X-CSRF-Token.' },
      },
    },
    paths: paths as never,
  }) as unknown as Record<string, unknown>;
}
