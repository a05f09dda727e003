// Node's own metrics (RSS, heap, CPU, event-loop delay, GC) describe the process, not one app, so they live in one
// registry per process. prom-client's collectors install observers that are never removed: collecting them once per
// process rather than once per app keeps test processes that start many servers from piling them up.
import { collectDefaultMetrics, Registry } from 'prom-client';

let shared: Registry | undefined;

export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
