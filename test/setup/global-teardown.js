// jest globalTeardown: removes this run's compiled `gatehouse` command (test/setup/global-setup.js).
import { removeCliBuild } from './cli-build.js';

export default async function teardown() {
  removeCliBuild(process.env.GATEHOUSE_TEST_CLI);
  delete process.env.GATEHOUSE_TEST_CLI;
}
