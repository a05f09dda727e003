// The configuration file as a service of the admin layer (docs/CONFIG-FILE.md; docs/ADMIN-API.md, "The CLI"): what
// `gatehouse config plan|apply|export` do, reachable in-process and, for the CLI beside a server holding the
// embedded database, through the admin API. The file's secret references are resolved where the server runs, as at
// start. An apply runs as one change of the admin lane (admin/serialized.ts): no other change interleaves with it.
import { environment } from '../../config.js';
import type { Actor } from '../actor.js';
import { AdminError } from '../admin-error.js';
import type { AdminDeps, AdminServices } from '../index.js';
import { ApplyError, applyConfigFile } from './apply.js';
import { exportConfig } from './export.js';
import { ConfigFileError, loadConfigText, type ConfigFile } from './load.js';
import { planConfigFile, type Change, type ConfigContext } from './plan.js';

export class ConfigFileAdmin {
  constructor(
    private readonly deps: AdminDeps,
    private readonly services: () => AdminServices,
  ) {}

  #context(): ConfigContext {
    const { db, box, registry, resources, connections, policy } = this.deps;
    return { db, box, registry, resources, connections, policy, services: this.services() };
  }

  #load(path: string, content: string): ConfigFile {
    const { config } = this.deps;
    try {
      return loadConfigText(content, path, { env: environment(), production: config.NODE_ENV === 'production', resources: config.RESOURCES, envConnectionId: config.UPSTREAM_PROVIDER });
    } catch (err) {
      if (err instanceof ConfigFileError) throw new AdminError('invalid_request', err.problems.join('\n'), 'content');
      throw err;
    }
  }

  /** What applying the file would change. */
  async plan(_actor: Actor, path: string, content: string): Promise<Change[]> {
    return planConfigFile(this.#load(path, content), this.#context());
  }

  /** Applies the file (each change audited with the actor "config"); the first failure stops it (a conflict). */
  async apply(_actor: Actor, path: string, content: string): Promise<Change[]> {
    try {
      return await applyConfigFile(this.#load(path, content), this.#context());
    } catch (err) {
      if (err instanceof ApplyError) throw new AdminError('conflict', err.message);
      throw err;
    }
  }

  /** The current state as a configuration file's content, without secrets. */
  async export(): Promise<Record<string, unknown>> {
    return exportConfig(this.#context());
  }
}
