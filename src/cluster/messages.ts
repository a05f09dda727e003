// What a worker and the primary say to each other over the cluster's IPC channel (cluster/supervisor.ts).
/** worker → primary: started and able to answer collections; only ready workers are asked for their metrics. */
export interface Ready { type: 'gatehouse:ready' }
/** worker → primary: a scrape reached this worker; answer with the whole host's metrics. */
export interface MetricsRequest { type: 'gatehouse:metrics-request'; id: number }
/** primary → worker: the answer to its MetricsRequest. */
export interface MetricsAnswer { type: 'gatehouse:metrics-answer'; id: number; text?: string; error?: string }
/** primary → every ready worker: send me your registries. */
export interface Collect { type: 'gatehouse:collect'; id: number }
/** worker → primary: this worker's registries (prom-client's JSON form, which AggregatorRegistry sums). */
export interface Collected { type: 'gatehouse:collected'; id: number; metrics: object[][]; error?: string }

export type Message = Ready | MetricsRequest | MetricsAnswer | Collect | Collected;

export function isMessage<T extends Message>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}
