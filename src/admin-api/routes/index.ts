// Every operation of the admin API, one line per area (docs/ADMIN-API.md).
import type { Operation } from '../operation.js';
import { auditOperations } from './audit.js';
import { clientOperations } from './clients.js';
import { meOperations } from './me.js';

export const OPERATIONS: readonly Operation[] = [
  ...meOperations,
  ...clientOperations,
  ...auditOperations,
];
