// Every operation of the admin API, one line per area (docs/ADMIN-API.md).
import type { Operation } from '../operation.js';
import { auditOperations } from './audit.js';
import { clientOperations } from './clients.js';
import { configOperations } from './config.js';
import { connectionOperations } from './connections.js';
import { grantOperations } from './grants.js';
import { keyOperations } from './keys.js';
import { mcpServerOperations } from './mcp-servers.js';
import { meOperations } from './me.js';
import { peopleOperations } from './people.js';
import { policyOperations } from './policy.js';
import { registrationTokenOperations } from './registration-tokens.js';

export const OPERATIONS: readonly Operation[] = [
  ...meOperations,
  ...clientOperations,
  ...auditOperations,
  ...configOperations,
  ...mcpServerOperations,
  ...policyOperations,
  ...peopleOperations,
  ...grantOperations,
  ...keyOperations,
  ...registrationTokenOperations,
  ...connectionOperations,
];
