// Applies the configuration file (docs/CONFIG-FILE.md, "Plan and apply"): the plan's changes, one by one, through
// the admin service layer as the actor "config", so each is checked and audited exactly as the same change made in
// the console would be; each object changed is then marked as managed by the file. The services do not share one
// transaction, so the first failure stops the apply with what was done before it kept (each change is complete
// in itself): the error names the change and the count, and planning again shows what remains.
import { CONFIG_ACTOR } from '../actor.js';
import type { ConfigFile } from './load.js';
import { describeChange, planConfigFile, type Change, type ConfigContext } from './plan.js';

export class ApplyError extends Error {
  constructor(
    readonly change: Change,
    readonly applied: Change[],
    readonly total: number,
    override readonly cause: unknown,
  ) {
    super(`${describeChange(change)}: ${(cause as Error)?.message ?? String(cause)} (${applied.length} of ${total} changes were applied before it; gatehouse config plan shows what remains)`);
    this.name = 'ApplyError';
  }
}

async function make(file: ConfigFile, ctx: ConfigContext, change: Change): Promise<void> {
  const { services } = ctx;
  const fields = change.fields ?? [];
  switch (change.kind) {
    case 'mcp_server': {
      if (change.action === 'remove') return void (await services.resources.remove(CONFIG_ACTOR, change.id));
      const { seed } = file.servers.find((s) => s.uri === change.id)!;
      if (change.action === 'add') await services.resources.create(CONFIG_ACTOR, seed);
      else {
        const { uri: _uri, ...rest } = seed;
        await services.resources.update(CONFIG_ACTOR, change.id, rest);
      }
      await services.resources.markManaged(change.id, file.name);
      return;
    }
    case 'connection': {
      if (change.action === 'remove') return void (await services.connections.remove(CONFIG_ACTOR, change.id));
      const { spec } = file.connections.find((c) => c.spec.id === change.id)!;
      if (change.action === 'add') await services.connections.add(CONFIG_ACTOR, spec);
      else await services.connections.update(CONFIG_ACTOR, spec, { keepSecret: !fields.includes('client_secret') });
      await services.connections.markManaged(change.id, file.name);
      return;
    }
    case 'client': {
      if (change.action === 'remove') return void (await services.clients.remove(CONFIG_ACTOR, change.id));
      const c = file.clients.find((x) => x.clientId === change.id)!;
      if (change.action === 'update' && change.replace) await services.clients.remove(CONFIG_ACTOR, c.clientId);
      if (change.action === 'add' || change.replace) {
        await services.clients.create(CONFIG_ACTOR, {
          clientId: c.clientId, clientSecret: c.secret, name: c.name, redirectUris: c.redirectUris, confidential: c.confidential,
          scope: c.scope, resource: c.resource, adminApi: c.adminApi,
        });
      } else {
        // An adoption (managed_by alone) goes through update too, so it is audited like any other change.
        if (fields.some((f) => f !== 'secret')) await services.clients.update(CONFIG_ACTOR, c.clientId, { name: c.name, redirectUris: c.redirectUris });
        if (fields.includes('secret')) await services.clients.rotateSecret(CONFIG_ACTOR, c.clientId, c.secret);
      }
      await services.clients.markManaged(c.clientId, file.name);
      return;
    }
    case 'policy': {
      if (change.action === 'remove') return void (await services.policy.reset(CONFIG_ACTOR, change.id));
      const p = file.policy.find((x) => x.name === change.id)!;
      await services.policy.set(CONFIG_ACTOR, p.name, p.raw);
      await services.policy.markManaged(p.name, file.name);
      return;
    }
  }
}

/** Plans and applies; returns the changes made (none when the database already matches the file). */
export async function applyConfigFile(file: ConfigFile, ctx: ConfigContext): Promise<Change[]> {
  const changes = await planConfigFile(file, ctx);
  const applied: Change[] = [];
  for (const change of changes) {
    try {
      await make(file, ctx, change);
    } catch (err) {
      throw new ApplyError(change, applied, changes.length, err);
    }
    applied.push(change);
  }
  return applied;
}
