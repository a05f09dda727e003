// Times the calls a login makes to an upstream IdP and counts the ones that fail, by connection kind (a fixed list
// in upstream/kinds.ts, never a connection's id or name, which admins choose freely).
import type { Metrics } from './registry.js';

export type UpstreamStage = 'start' | 'finish';
export type UpstreamFailure = 'unreachable' | 'invalid_response' | 'idp_denied' | 'refused';

export interface UpstreamMetrics {
  /** Runs `call` and records its duration for this kind and stage, whether it succeeds or throws. */
  time<T>(kind: string, stage: UpstreamStage, call: () => Promise<T>): Promise<T>;
  failed(kind: string, stage: UpstreamStage, reason: UpstreamFailure): void;
}

export function upstreamMetrics(metrics: Metrics): UpstreamMetrics {
  return {
    async time(kind, stage, call) {
      const end = metrics.upstreamDuration.startTimer({ kind, stage });
      try {
        return await call();
      } finally {
        end();
      }
    },
    failed(kind, stage, reason) {
      metrics.upstreamFailures.inc({ kind, stage, reason });
    },
  };
}

/** For code paths built without metrics (the CLI's discovery test): times nothing, counts nothing. */
export const NO_UPSTREAM_METRICS: UpstreamMetrics = {
  time: (_kind, _stage, call) => call(),
  failed: () => {},
};
