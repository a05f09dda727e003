// jest globalSetup: what every test run prepares once, before any test file starts. Each step sets an environment
// variable the test workers inherit.
//  - GATEHOUSE_PGLITE_TEMPLATE: an initialised embedded database to copy (test/setup/pglite-template.js);
//  - GATEHOUSE_TEST_CLI: the `gatehouse` command compiled from the sources of this run (test/setup/cli-build.js),
//    which test/helpers/cli.ts spawns; test/setup/global-teardown.js removes it;
//  - GATEHOUSE_TEST_CLI_FLAGS: the V8 flags test/helpers/cli.ts gives those processes, as far as this node knows them.
import pgliteTemplate from './pglite-template.js';
import { acceptedNodeFlags, buildCli } from './cli-build.js';

export default async function setup() {
  const [, cli, flags] = await Promise.all([pgliteTemplate(), buildCli(), acceptedNodeFlags(['--liftoff-only', '--no-opt'])]);
  process.env.GATEHOUSE_TEST_CLI = cli;
  process.env.GATEHOUSE_TEST_CLI_FLAGS = flags.join(' ');
}
