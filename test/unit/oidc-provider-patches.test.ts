// Gatehouse patches a few oidc-provider internals where the library has no hook (src/oauth/patches/, and the
// Client.find wrapper of src/oauth/cimd/trust.ts). Each patch names the pinned internal it touches; this suite reads
// the pinned oidc-provider's source and fails when a version changes one of them, so an upgrade cannot silently
// turn a rule off.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

describe('the oidc-provider internals Gatehouse relies on are still those of the pinned 9.13.3', () => {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('oidc-provider/package.json'));
  const read = (file: string) => readFileSync(join(root, file), 'utf8');

  it('is version 9.13.3', () => {
    expect(JSON.parse(read('package.json')).version).toBe('9.13.3');
  });

  it('asks Client#grantTypeAllowed for the requested grant type at the token endpoint (patches/client-grant-type-allowed.ts)', () => {
    const token = read('lib/actions/token.js');
    const check = token.slice(token.indexOf('async function allowedGrantTypeCheck'), token.indexOf('async function rejectDupesOptionalExcept'));
    expect(check).toContain('ctx.oidc.client.grantTypeAllowed(ctx.oidc.params.grant_type)');
    // …after client authentication and before the grant handler runs.
    expect(token.indexOf('...clientAuth')).toBeLessThan(token.indexOf('async function allowedGrantTypeCheck'));
    expect(token.indexOf('async function allowedGrantTypeCheck')).toBeLessThan(token.indexOf('async function callTokenHandler'));
    expect(read('lib/models/client.js')).toMatch(/grantTypeAllowed\(type\) \{\s*return this\.grantTypes\.includes\(type\);/);
  });

  it('asks Client#redirectUriAllowed about every redirect_uri of an authorization request (patches/loopback-redirect-allowed.ts)', () => {
    expect(read('lib/actions/authorization/response_parameters.js')).toContain('ctx.oidc.client.redirectUriAllowed(ctx.oidc.params.redirect_uri)');
    expect(read('lib/shared/authorization_error_handler.js')).toContain("method: 'redirectUriAllowed'");
    expect(read('lib/models/client.js')).toMatch(/redirectUriAllowed\(value\) \{\s*return this\.#redirectAllowed\(value, this\.redirectUris\);/);
  });

  it('looks clients up through the static Client.find everywhere a CIMD refusal can surface (cimd/trust.ts attach)', () => {
    expect(read('lib/models/client.js')).toContain('static async find(id) {');
    for (const file of ['lib/shared/client_auth.js', 'lib/shared/authorization_error_handler.js']) expect(read(file)).toMatch(/provider\.Client\.find\(/);
  });

  it('builds a metadata-document client through the client schema, whose extraClientMetadata validator gets the metadata to change (client-metadata-hook.ts)', () => {
    expect(read('lib/helpers/client_id_metadata_document.js')).toContain('addClient(provider, properties, { cimd: true })');
    const schema = read('lib/helpers/client_schema.js');
    expect(schema).toContain('configuration.extraClientMetadata.validator(ctx, prop, this[prop], this)');
    // The validator runs before the schema's own checks (#initialize), so what it narrows is what gets validated.
    const constructor = schema.slice(schema.indexOf('if (processCustomMetadata) {'), schema.indexOf('this.ensureStripUnrecognized();'));
    expect(constructor.indexOf('this.processCustomMetadata(ctx)')).toBeLessThan(constructor.indexOf('this.#initialize(this)'));
  });
});
