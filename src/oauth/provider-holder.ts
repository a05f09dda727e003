// oidc-provider takes its signing keys at construction. Keys are shared through the database and rotate, so each
// instance reloads them every KEY_RELOAD_INTERVAL seconds and, when the published set or the signing key changed,
// builds a fresh provider and swaps it in. All provider state is in the database, so in-flight and later requests
// are served the same by the old and the new instance.
import type { Middleware } from 'koa';
import compose from 'koa-compose';
import type Provider from 'oidc-provider';
import type { Logger } from '../log.js';
import type { KeySet } from './keys.js';

export class ProviderHolder {
  #provider!: Provider;
  #handler!: Middleware;
  #keys!: KeySet;
  #fingerprint = '';

  constructor(
    private readonly build: (keys: KeySet) => Provider,
    private readonly loadKeys: (previous?: KeySet) => Promise<KeySet>,
    private readonly log: Logger,
  ) {}

  get provider(): Provider {
    return this.#provider;
  }

  get keys(): KeySet {
    return this.#keys;
  }

  /** Loads the keys and (re)builds the provider if they changed. Returns whether it rebuilt. */
  async refresh(): Promise<boolean> {
    const keys = await this.loadKeys(this.#keys);
    const fingerprint = keys.fingerprint();
    this.#keys = keys;
    if (fingerprint === this.#fingerprint) return false;
    const provider = this.build(keys);
    this.#handler = compose(provider.middleware as Middleware[]);
    this.#provider = provider;
    if (this.#fingerprint) this.log.info({ kids: keys.keys.map((k) => k.kid) }, 'signing keys changed; provider reloaded');
    this.#fingerprint = fingerprint;
    return true;
  }

  middleware(): Middleware {
    return (ctx, next) => this.#handler(ctx, next);
  }
}
