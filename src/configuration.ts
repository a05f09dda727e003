// The configuration the server and the CLI start from: config.ts's schema and checks, plus the checks of modules
// that sit above config in the layers (docs/ARCHITECTURE.md "Layers") — today the UPSTREAM_* connection, which
// needs the registry of connection kinds. One list of problems, one line per variable, as before.
import { loadConfig, type Config } from './config.js';
import { envConnectionProblems } from './upstream/env-connection.js';

export function loadConfiguration(env?: Record<string, string | undefined>): Config {
  return loadConfig(env, (c) => envConnectionProblems(c, c.NODE_ENV === 'production'));
}
