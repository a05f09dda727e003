// One Registry per app (not prom-client's global default), so several Gatehouse instances in one process — tests,
// or a host embedding two — keep their counts apart. Every label value is drawn from a fixed set in this folder;
// nothing a client sends becomes a label.
import { Counter, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/connection.js';
import { registerPoolGauges } from './pool.js';
import { processRegistry } from './process.js';

/** Seconds; from a cached metadata read (~1 ms) to a slow argon2 login or a database failover. */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds; an IdP round trip (discovery, token exchange, JWKS) is slower than a local request. */
const UPSTREAM_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route name (never the raw path), method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route name and method.',
    labelNames: ['route', 'method'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Token responses issued at /token, by grant type.',
    labelNames: ['grant_type'] as const,
    registers: [this.registry],
  });

  readonly refusals = new Counter({
    name: 'gatehouse_refusals_total',
    help: 'Refused requests as audited: the audit event type and the OAuth error code (or "other").',
    labelNames: ['type', 'reason'] as const,
    registers: [this.registry],
  });

  readonly registrations = new Counter({
    name: 'gatehouse_registrations_total',
    help: 'Clients registered: dcr (RFC 7591), cimd (first use of a metadata document URL), static (admin-created).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'gatehouse_upstream_login_duration_seconds',
    help: 'Time spent on the upstream IdP during a login: start (discovery, authorization URL) and finish (code exchange, ID token checks).',
    labelNames: ['kind', 'stage'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });

  readonly upstreamFailures = new Counter({
    name: 'gatehouse_upstream_login_failures_total',
    help: 'Upstream logins that failed: unreachable IdP, invalid response, the IdP refused, or the connection kind refused the identity.',
    labelNames: ['kind', 'stage', 'reason'] as const,
    registers: [this.registry],
  });

  constructor(db: Db) {
    registerPoolGauges(this.registry, db);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #scraper?: () => Promise<string>;

  /** Serves /metrics from elsewhere: a worker answers with every worker's metrics, summed by the primary. */
  scrapeWith(scraper: () => Promise<string>): void {
    this.#scraper = scraper;
  }

  /** The exposition text: this app's metrics, then the process's (or, in a worker, the whole cluster's). */
  async scrape(): Promise<string> {
    if (this.#scraper) return this.#scraper();
    const [own, processWide] = await Promise.all([this.registry.metrics(), processRegistry().metrics()]);
    return `${own}\n${processWide}`;
  }
}
