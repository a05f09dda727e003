// How far V8 lets the heap grow past what is live before it collects (docs/PERFORMANCE.md, "Memory"). By default V8
// picks a factor of up to 4× the live heap after each full collection; under /token load nearly all of that growth
// is garbage of finished requests, so a server with a 33 MB live heap peaked at ~250 MB RSS. A factor of 2 keeps the
// peak near 175 MB at the same throughput (measured in the benchmark). An operator who wants V8's own choice, or
// another factor, sets --heap-growing-percent in NODE_OPTIONS (or on node's command line): that is left alone.
import { setFlagsFromString } from 'node:v8';

const FLAG = '--heap-growing-percent';
/** The factor 1 + GROWTH_PERCENT/100. */
const GROWTH_PERCENT = 100;

export function limitHeapGrowth(): void {
  if (!growthGiven(process.execArgv, process.env.NODE_OPTIONS)) setFlagsFromString(`${FLAG}=${GROWTH_PERCENT}`);
}

/** Whether node was started with its own heap growth (`--heap-growing-percent` or `--heap_growing_percent`). */
export function growthGiven(execArgv: string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((arg) => arg.replace(/_/g, '-').startsWith(FLAG));
}
