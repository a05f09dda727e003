// Objects the declarative configuration file manages (docs/CONFIG-FILE.md): their `managed_by` names the file, and
// only the file (actor "config") may change them; every other actor is refused with a message naming the file, so
// the file stays the truth and the next apply does not silently undo a console edit.
import type { Actor } from './actor.js';
import { AdminError } from './admin-error.js';

export function assertNotManaged(actor: Actor, managedBy: string | null | undefined): void {
  if (managedBy && actor.kind !== 'config') {
    throw new AdminError('conflict', `This is managed by the configuration file ${managedBy}: change it there and apply it (gatehouse config apply).`, 'managed_by');
  }
}
