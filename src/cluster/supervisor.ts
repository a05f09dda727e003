// WORKERS > 1: this process becomes the primary of a node:cluster and serves nothing itself. It prepares the
// database once (migrations, seeds, the first signing keys), so workers do not race to do it, then forks WORKERS
// server processes that share the listening socket. Each worker is an ordinary instance (all state
// in PostgreSQL), so nothing else changes; what needs the primary is the host-wide /metrics (cluster/worker.ts).
//
// Supervision: a worker that dies after it started serving is replaced after a second; one that dies before it
// ever served (a port in use, a database that refuses it) would fail the same way again, so the whole server
// stops with exit code 1. SIGTERM or SIGINT stops every worker gracefully (each finishes its requests); a worker
// still running after STOP_GRACE_MS is killed. The caller decides what the primary does once all are stopped.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config.js';
import { openServices, seedDatabase } from '../gatehouse.js';
import type { Logger } from '../log.js';
import { isMessage, type Collect, type Collected, type Message, type MetricsRequest } from './messages.js';

const RESTART_DELAY_MS = 1000;
const STOP_GRACE_MS = 15_000;
const COLLECT_TIMEOUT_MS = 5000;

export interface Supervisor {
  /** Settles with the exit code once every worker has stopped: 0 after a signal, 1 after a failed start or a kill. */
  stopped: Promise<number>;
}

export async function superviseWorkers(config: Config, log: Logger): Promise<Supervisor> {
  const services = await openServices(config, { log });
  try {
    await seedDatabase(services);
  } finally {
    await services.handle.close();
  }

  const slots = new Map<Worker, number>(); // live workers → their slot, 1..WORKERS
  const ready = new Set<Worker>(); // those that started serving (cluster/worker.ts says so once it listens)
  let stopping = false;
  let exitCode = 0;
  let settle!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (settle = resolve));

  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    if (slots.size === 0) return settle(exitCode);
    for (const worker of slots.keys()) worker.process.kill('SIGTERM');
    setTimeout(() => {
      log.error({ workers: [...slots.values()] }, 'workers still running after the grace period; killing them');
      for (const worker of slots.keys()) worker.process.kill('SIGKILL');
      settle(1);
    }, STOP_GRACE_MS).unref();
  };

  const fork = (slot: number) => {
    // The slot lets the workers tell themselves apart in logs; only the first announces the setup link.
    const worker = cluster.fork({ GATEHOUSE_WORKER: String(slot) });
    slots.set(worker, slot);
    worker.once('exit', (code, signal) => {
      slots.delete(worker);
      const served = ready.delete(worker);
      // Collections waiting on it go on without it: a dead worker's counts are gone with it.
      for (const c of collections.values()) if (c.pending.delete(worker) && c.pending.size === 0) c.done();
      if (stopping) {
        if (slots.size === 0) settle(exitCode);
        return;
      }
      if (!served) {
        log.error({ worker: slot, code, signal }, 'a worker failed to start; stopping');
        return stop(1);
      }
      log.error({ worker: slot, code, signal }, 'a worker exited; starting another in its place');
      setTimeout(() => stopping || fork(slot), RESTART_DELAY_MS);
    });
  };

  // Host-wide metrics: ask every ready worker for its registries and sum them (prom-client's aggregation rules:
  // counters and histograms add up, per-process gauges keep their own rule).
  let nextCollection = 0;
  const collections = new Map<number, { pending: Set<Worker>; metrics: object[][]; done: (err?: Error) => void }>();
  const collect = () =>
    new Promise<string>((resolve, reject) => {
      const id = nextCollection++;
      const pending = new Set(ready);
      const timer = setTimeout(() => finish(new Error(`${pending.size} worker(s) did not send their metrics`)), COLLECT_TIMEOUT_MS);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        const c = collections.get(id);
        collections.delete(id);
        if (err) return reject(err);
        Promise.resolve(AggregatorRegistry.aggregate(c?.metrics.flat() ?? []).metrics()).then(resolve, reject);
      };
      collections.set(id, { pending, metrics: [], done: finish });
      if (pending.size === 0) return finish();
      for (const worker of pending) worker.send({ type: 'gatehouse:collect', id } satisfies Collect);
    });

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (isMessage(message, 'gatehouse:ready')) ready.add(worker);
    if (isMessage<Collected>(message, 'gatehouse:collected')) {
      const c = collections.get(message.id);
      if (!c || !c.pending.delete(worker)) return;
      // A worker that could not read its registries fails the scrape: a partial sum would look like a counter reset.
      if (message.error !== undefined) return c.done(new Error(`a worker could not read its metrics: ${message.error}`));
      c.metrics.push(message.metrics);
      if (c.pending.size === 0) c.done();
    }
    if (isMessage<MetricsRequest>(message, 'gatehouse:metrics-request')) {
      const answer = (m: Message) => worker.isConnected() && worker.send(m);
      collect().then(
        (text) => answer({ type: 'gatehouse:metrics-answer', id: message.id, text }),
        (err: Error) => answer({ type: 'gatehouse:metrics-answer', id: message.id, error: err.message }),
      );
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      stop(0);
    });
  }
  log.info({ workers: config.WORKERS, pid: process.pid }, 'starting workers');
  for (let slot = 1; slot <= config.WORKERS; slot++) fork(slot);
  return { stopped };
}
