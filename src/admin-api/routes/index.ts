// Every operation of the admin API, one line per area (docs/ADMIN-API.md).
import type { Operation } from '../operation.js';
import { auditOperations } from './audit.js';
import { clientOperations } from './clients.js';
import { mcpServerOperations } from './mcp-servers.js';
import { meOperations } from './me.js';
import { policyOperations } from './policy.js';

export const OPERATIONS: readonly Operation[] = [
  ...meOperations,
  ...clientOperations,
  ...auditOperations,
  ...mcpServerOperations,
  ...policyOperations,
];
