// A worker of `WORKERS` > 1 (cluster/supervisor.ts): an ordinary instance that shares the primary's listening
// socket. Two things tie it to the primary: /metrics must describe the whole host, not whichever worker a scrape
// happened to reach, so the worker asks the primary, which sums every worker's registries; and a worker whose
// primary is gone stops rather than serve on unsupervised.
import type { Metrics } from '../metrics/registry.js';
import { processRegistry } from '../metrics/process.js';
import { isMessage, type Collect, type Collected, type Message, type MetricsAnswer, type MetricsRequest } from './messages.js';

/** How long a scrape waits for the primary, which itself waits up to 5 s for the workers. */
const SCRAPE_TIMEOUT_MS = 6000;

/** Sends to the primary; false once the channel is closed (the primary is gone and this worker is stopping). */
const send = (message: Message): boolean => {
  if (!process.connected) return false;
  process.send!(message); // a false return only means "queued behind others": it is still delivered
  return true;
};

export function joinCluster(metrics: Metrics, onPrimaryGone: () => void): void {
  let next = 0;
  const waiting = new Map<number, (answer: MetricsAnswer) => void>();
  process.on('message', (message: unknown) => {
    if (isMessage<MetricsAnswer>(message, 'gatehouse:metrics-answer')) waiting.get(message.id)?.(message);
    if (isMessage<Collect>(message, 'gatehouse:collect')) {
      void Promise.all([metrics.registry.getMetricsAsJSON(), processRegistry().getMetricsAsJSON()]).then(
        (registries) => send({ type: 'gatehouse:collected', id: message.id, metrics: registries } satisfies Collected),
        (err: Error) => send({ type: 'gatehouse:collected', id: message.id, metrics: [], error: err.message } satisfies Collected),
      );
    }
  });
  metrics.scrapeWith(
    () =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        const answered = (answer: MetricsAnswer) => {
          clearTimeout(timer);
          waiting.delete(id);
          if (answer.text !== undefined) resolve(answer.text);
          else reject(new Error(`metrics collection failed: ${answer.error ?? 'unknown error'}`));
        };
        const timer = setTimeout(() => answered({ type: 'gatehouse:metrics-answer', id, error: 'the primary did not answer' }), SCRAPE_TIMEOUT_MS);
        waiting.set(id, answered);
        if (!send({ type: 'gatehouse:metrics-request', id } satisfies MetricsRequest)) answered({ type: 'gatehouse:metrics-answer', id, error: 'the primary is gone' });
      }),
  );
  process.once('disconnect', onPrimaryGone);
  send({ type: 'gatehouse:ready' });
}
