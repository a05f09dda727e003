// Administrative changes happen one at a time (docs/ARCHITECTURE.md, "The admin service layer"): a change reads the
// object, checks its preconditions and version, then writes, and two changes interleaving there would both pass
// their checks (two creates of one URI, two updates based on one version, an update of an object being deleted).
// So every method that takes an actor runs alone: in this process behind one queue, and across instances on
// PostgreSQL under a transaction-scoped advisory lock held for the change. Administrative changes are rare; one
// lane is simpler and safer than a lock per object. A change made inside another (a service calling a service) is
// already in the lane. The embedded database has one process and one connection, so the queue is enough there.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db } from '../db/connection.js';

const ADMIN_LOCK = 0x61646d6e; // "admn"
const running = new AsyncLocalStorage<true>();

export class AdminLane {
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly embedded: boolean,
  ) {}

  async run<T>(change: () => Promise<T>): Promise<T> {
    if (running.getStore()) return change();
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous.catch(() => undefined);
      return await running.run(true, () =>
        this.embedded
          ? change()
          : this.db.transaction(async (trx) => {
              await trx.raw('select pg_advisory_xact_lock(?)', [ADMIN_LOCK]);
              return change();
            }),
      );
    } finally {
      release();
    }
  }
}

const isActor = (value: unknown): boolean =>
  !!value && typeof value === 'object' && typeof (value as { kind?: unknown }).kind === 'string' && typeof (value as { label?: unknown }).label === 'string';

/** The service with every method whose first argument is an actor (a change) run in the lane. */
export function serialized<T extends object>(service: T, lane: AdminLane): T {
  return new Proxy(service, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (isActor(args[0]) ? lane.run(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

const lanes = new WeakMap<Db, AdminLane>();

/** A service of the admin layer, its changes in the one lane of this database handle (every door shares it). */
export function inLane<T extends object>(service: T, deps: { db: Db; config: { embedded?: boolean; DATABASE_URL?: string | undefined } }): T {
  let lane = lanes.get(deps.db);
  if (!lane) lanes.set(deps.db, (lane = new AdminLane(deps.db, deps.config.embedded ?? !deps.config.DATABASE_URL)));
  return serialized(service, lane);
}
