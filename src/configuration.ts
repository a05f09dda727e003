// The configuration the server and the CLI start from: config.ts's schema and checks, plus the checks of modules
// that sit above config in the layers (docs/ARCHITECTURE.md "Layers") — the UPSTREAM_* connection, which needs the
// registry of connection kinds, the BOOTSTRAP_ADMIN_* administrator (its email and password file), and the
// GATEHOUSE_CONFIG file (docs/CONFIG-FILE.md), whose problems are reported as
// `GATEHOUSE_CONFIG: gatehouse.yaml line 12: field: …`. One list of problems, one line each, as before.
import { environment, loadConfig, type Config } from './config.js';
import { ConfigFileError, loadConfigFile, type ConfigFile } from './admin/config-file/load.js';
import { envConnectionProblems } from './upstream/env-connection.js';
import { bootstrapAdminProblems } from './upstream/local/bootstrap-admin.js';

export function loadConfiguration(env: Record<string, string | undefined> = environment()): Config {
  let configFile: ConfigFile | undefined;
  const config = loadConfig(env, (c) => {
    const production = c.NODE_ENV === 'production';
    const problems = [...envConnectionProblems(c, production), ...bootstrapAdminProblems(c)];
    if (c.GATEHOUSE_CONFIG) {
      try {
        configFile = loadConfigFile(c.GATEHOUSE_CONFIG, { env, production, resources: c.RESOURCES, envConnectionId: c.UPSTREAM_PROVIDER });
      } catch (err) {
        if (!(err instanceof ConfigFileError)) throw err;
        problems.push(...err.problems.map((p) => `GATEHOUSE_CONFIG: ${p}`));
      }
    }
    return problems;
  });
  return configFile ? { ...config, configFile } : config;
}
