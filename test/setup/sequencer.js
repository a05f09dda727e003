// jest testSequencer: the longest test files start first, so that no long file starts last and runs alone while the
// other workers have finished (the run lasts as long as its busiest worker).
//
// jest's own sequencer does this with the durations it recorded in its cache on an earlier run on this machine (and
// still does, below). Without them (a fresh CI machine, the first of its two passes) it orders by file size, which
// puts the CLI tests in the middle: small files, yet among the longest, since every command they check is a process
// of its own. Here a file without a recorded duration is estimated by its size plus SPAWN_BYTES for each place it
// starts a process (a command, a server, a browser).
import { readFileSync } from 'node:fs';
import JestSequencer from '@jest/test-sequencer';

const Sequencer = JestSequencer.default ?? JestSequencer;

/** One process started costs about as long as this many bytes of test code (a few seconds). */
const SPAWN_BYTES = 5_000;
const SPAWNS = /\b(?:runCli|runBin|spawnServe|spawn|execFile|fork|launchChromium|launchBrowser)\s*\(/g;

export default class LongestFirst extends Sequencer {
  #estimates = new Map();

  estimate(test) {
    let e = this.#estimates.get(test.path);
    if (e === undefined) {
      let source = '';
      try {
        source = readFileSync(test.path, 'utf8');
      } catch {
        // gone since it was listed: jest reports it
      }
      e = Buffer.byteLength(source) + SPAWN_BYTES * (source.match(SPAWNS)?.length ?? 0);
      this.#estimates.set(test.path, e);
    }
    return e;
  }

  sort(tests) {
    // As jest's: the files that failed last time first, then those with no recorded duration (new ones), then the
    // rest longest first; only the estimate replaces jest's file size.
    for (const test of tests) test.duration = this.time(test);
    return [...tests].sort((a, b) => {
      const failedA = this.hasFailed(a);
      if (failedA !== this.hasFailed(b)) return failedA ? -1 : 1;
      const timedA = a.duration != null;
      if (timedA !== (b.duration != null)) return timedA ? 1 : -1;
      if (timedA) return b.duration - a.duration;
      return this.estimate(b) - this.estimate(a);
    });
  }
}
