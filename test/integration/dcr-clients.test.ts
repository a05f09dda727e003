// Dynamic Client Registration as real MCP clients do it (RFC 7591). Each registration body below is
// reconstructed from the client's public source or from logs its users published: Claude Code, claude.ai, VS Code,
// Cursor, mcp-remote and the official MCP TypeScript SDK (whose own code sends two of them). Each must be accepted
// (201) with a response that keeps the shape rules and that the SDK's schema parses, and then carry a person through
// a full authorization with the client authentication it registered: none, client_secret_post or
// client_secret_basic.
// What this file proves for docs/COMPATIBILITY.md (scripts/compatibility.ts reads these lines):
// compatibility: client=sdk-v1 covers=dcr,refresh
// compatibility: registration=claude-code covers=dcr,refresh
// compatibility: registration=claude-ai covers=dcr,refresh
// compatibility: registration=vs-code covers=dcr,refresh
// compatibility: registration=cursor covers=dcr,refresh
// compatibility: registration=mcp-remote covers=dcr,refresh
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import {
  exchangeAuthorization,
  refreshAuthorization,
  registerClient,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthClientInformationFull, OAuthClientMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { authorizeThrough, Browser, pkcePair, tokenRequest } from '../helpers/browser-flow.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { clientAuthentication, expectRegistrationShape, postRegistration, type Json } from '../helpers/registration.js';
import { startTestServer, TEST_RESOURCE, type TestServer } from '../helpers/server.js';

const USER = { email: 'barbara@example.com', password: 'liskov substitution principle' };

let db: TestDatabase;
let gh: TestServer;
let cursorDb: TestDatabase;
let cursorGh: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  gh = await startTestServer(db.env);
  await gh.services.users.create(USER);
  // Cursor's callback is a private-use scheme that is not a reverse domain name: an operator allows it by name.
  cursorDb = await createTestDatabase();
  cursorGh = await startTestServer({ ...cursorDb.env, REDIRECT_URI_SCHEMES: 'cursor' });
  await cursorGh.services.users.create(USER);
});

afterAll(async () => {
  await gh?.close();
  await db?.drop();
  await cursorGh?.close();
  await cursorDb?.drop();
});

function port(): number {
  return 20_000 + randomBytes(2).readUInt16BE() % 40_000;
}

function withoutQuery(url: URL): string {
  return url.href.split('?')[0]!;
}

async function discovery(server: TestServer): Promise<AuthorizationServerMetadata> {
  const res = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`);
  return (await res.json()) as AuthorizationServerMetadata;
}

/**
 * The browser part (login, Allow) with PKCE S256, then the code redeemed and the refresh token used once, both
 * with the client's registered authentication. Returns the token response.
 */
async function authorizeAndRedeem(server: TestServer, client: Json, redirectUri: string, scope?: string): Promise<Json> {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString('hex');
  const callback = await authorizeThrough(new Browser(server.issuer), server.issuer, {
    client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope, state,
  }, USER);
  expect(withoutQuery(callback)).toBe(redirectUri);
  expect(callback.searchParams.get('error')).toBeNull();
  expect(callback.searchParams.get('state')).toBe(state);
  expect(callback.searchParams.get('iss')).toBe(server.issuer);
  const code = callback.searchParams.get('code')!;
  const auth = clientAuthentication(client);
  const tokens = await tokenRequest(server.issuer, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri, ...auth.form }, auth.headers);
  expect(tokens.status).toBe(200);
  expect(tokens.body.token_type).toMatch(/^bearer$/i);
  expect(decodeJwt(tokens.body.access_token).aud).toBe(TEST_RESOURCE);
  expect(typeof tokens.body.refresh_token).toBe('string');
  const refreshed = await tokenRequest(server.issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token, ...auth.form }, auth.headers);
  expect(refreshed.status).toBe(200);
  expect(decodeJwt(refreshed.body.access_token).aud).toBe(TEST_RESOURCE);
  return tokens.body;
}

async function registerAs(server: TestServer, body: Json, authMethod: string): Promise<Json> {
  const res = await postRegistration(server.issuer, body);
  if (res.status !== 201) throw new Error(`registration refused: ${res.status} ${res.text}`);
  expect(res.headers.get('cache-control')).toContain('no-store');
  expectRegistrationShape(res.body, server.issuer, { redirect_uris: body.redirect_uris, auth_method: authMethod });
  return res.body;
}

// Claude Code registers through the MCP SDK's registerClient: its own name per server, a localhost callback on the
// port it listens on, no secret, and the scope the MCP server's 401 named.
describe('Claude Code (public client, loopback callback, scope from the first 401)', () => {
  const callbackPort = port();
  const body = {
    client_name: 'Claude Code (example-mcp)',
    redirect_uris: [`http://localhost:${callbackPort}/callback`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'tools:read',
  };

  it('registers (201, shape rules, SDK schema) and completes an authorization with PKCE and no secret', async () => {
    const client = await registerAs(gh, body, 'none');
    expect(client.client_name).toBe('Claude Code (example-mcp)');
    const tokens = await authorizeAndRedeem(gh, client, body.redirect_uris[0]!, 'tools:read');
    expect(tokens.scope).toBe('tools:read');
  });
});

// claude.ai registers from its servers (the body its users logged, e.g. in anthropics/claude-code#5826): a hosted
// https callback, client_secret_post, and the scope "claudeai", which no MCP server defines.
describe('claude.ai (confidential client_secret_post, hosted https callback, scope "claudeai")', () => {
  const body = {
    client_name: 'claudeai',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    scope: 'claudeai',
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
  };

  it('registers with a client secret and completes an authorization that authenticates with it in the form', async () => {
    const client = await registerAs(gh, body, 'client_secret_post');
    // Its registered scope names no scope Gatehouse knows; that neither refuses it nor caps what it may request.
    await authorizeAndRedeem(gh, client, body.redirect_uris[0]!);
  });

  it('cannot redeem its code without its secret, or with a wrong one (401 invalid_client), and still can with it', async () => {
    const client = await registerAs(gh, body, 'client_secret_post');
    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: client.client_id, redirect_uri: body.redirect_uris[0]!, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE,
    }, USER);
    const code = callback.searchParams.get('code')!;
    const form = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: body.redirect_uris[0]!, client_id: client.client_id };
    const missing = await tokenRequest(gh.issuer, form);
    expect(missing.status).toBe(401);
    expect(missing.body.error).toBe('invalid_client');
    const wrong = await tokenRequest(gh.issuer, { ...form, client_secret: `${client.client_secret}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    const right = await tokenRequest(gh.issuer, { ...form, client_secret: client.client_secret });
    expect(right.status).toBe(200);
  });
});

// VS Code's fetchDynamicRegistration (src/vs/base/common/oauth.ts).
describe('VS Code (native, port-less loopback plus vscode.dev callbacks, grant types filtered by discovery)', () => {
  // VS Code registers the grant types it supports that the server lists (device_code only if listed), four
  // redirect URIs, and listens on 33418 or, when that port is taken, any free one.
  it('registers without asking for a grant type Gatehouse does not list, and authorizes on an ephemeral loopback port', async () => {
    const meta = await discovery(gh);
    const supported = ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'];
    const body = {
      client_name: 'Visual Studio Code',
      client_uri: 'https://code.visualstudio.com',
      grant_types: meta.grant_types_supported ? meta.grant_types_supported.filter((g) => supported.includes(g)) : supported,
      response_types: ['code'],
      redirect_uris: ['https://insiders.vscode.dev/redirect', 'https://vscode.dev/redirect', 'http://127.0.0.1/', 'http://127.0.0.1:33418/'],
      scope: 'tools:read',
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    };
    expect(body.grant_types).toEqual(['authorization_code', 'refresh_token']);
    const client = await registerAs(gh, body, 'none');
    expect(client.application_type).toBe('native');
    await authorizeAndRedeem(gh, client, `http://127.0.0.1:${port()}/`, 'tools:read');
    await authorizeAndRedeem(gh, client, 'https://vscode.dev/redirect', 'tools:read');
  });
});

// mcp-remote's NodeOAuthClientProvider.clientMetadata (src/lib/node-oauth-client-provider.ts).
describe('mcp-remote (public client, software_id and software_version)', () => {
  it('registers (unknown software fields are ignored, never echoed as null) and authorizes with the default scope', async () => {
    const callbackPort = port();
    const body = {
      redirect_uris: [`http://localhost:${callbackPort}/oauth/callback`],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'MCP CLI Client',
      client_uri: 'https://github.com/modelcontextprotocol/mcp-cli',
      software_id: '2e6dc280-f3c3-4e01-99a7-8181dbd1d23d',
      software_version: '0.1.29',
    };
    const client = await registerAs(gh, body, 'none');
    const tokens = await authorizeAndRedeem(gh, client, body.redirect_uris[0]!);
    expect(String(tokens.scope).split(' ').sort()).toEqual(['tools:read', 'tools:write']);
  });
});

describe('the MCP TypeScript SDK (its own registerClient, startAuthorization, exchangeAuthorization, refreshAuthorization)', () => {
  /** Registers through the SDK, keeping the raw response the SDK parsed so its shape can be checked too. */
  async function sdkRegister(clientMetadata: OAuthClientMetadata, scope?: string) {
    const metadata = await discovery(gh);
    let raw: Json = {};
    let status = 0;
    const info = await registerClient(gh.issuer, {
      metadata,
      clientMetadata,
      scope,
      fetchFn: async (url, init) => {
        const res = await fetch(url, init);
        status = res.status;
        raw = (await res.clone().json()) as Json;
        return res;
      },
    });
    expect(status).toBe(201);
    return { metadata, info, raw };
  }

  async function sdkAuthorize(metadata: AuthorizationServerMetadata, info: OAuthClientInformationFull, redirectUrl: string, scope?: string) {
    const resource = new URL(TEST_RESOURCE);
    const { authorizationUrl, codeVerifier } = await startAuthorization(gh.issuer, { metadata, clientInformation: info, redirectUrl, scope, resource, state: 'sdk-state' });
    const params = Object.fromEntries([...authorizationUrl.searchParams].filter(([k]) => k !== 'response_type'));
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, params as never, USER);
    expect(withoutQuery(callback)).toBe(redirectUrl);
    const tokens = await exchangeAuthorization(gh.issuer, { metadata, clientInformation: info, authorizationCode: callback.searchParams.get('code')!, codeVerifier, redirectUri: redirectUrl, resource });
    expect(decodeJwt(tokens.access_token).aud).toBe(TEST_RESOURCE);
    const refreshed = await refreshAuthorization(gh.issuer, { metadata, clientInformation: info, refreshToken: tokens.refresh_token!, resource });
    expect(decodeJwt(refreshed.access_token).aud).toBe(TEST_RESOURCE);
    return tokens;
  }

  it('the simpleOAuthClient example (client_secret_post) registers and authorizes, the SDK authenticating in the form', async () => {
    const redirectUrl = `http://localhost:${port()}/callback`;
    const clientMetadata: OAuthClientMetadata = {
      client_name: 'Simple OAuth MCP Client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    };
    const { metadata, info, raw } = await sdkRegister(clientMetadata, 'tools:read');
    expectRegistrationShape(raw, gh.issuer, { redirect_uris: [redirectUrl], auth_method: 'client_secret_post' });
    const tokens = await sdkAuthorize(metadata, info, redirectUrl, 'tools:read');
    expect(tokens.scope).toBe('tools:read');
  });

  it('a client that names no authentication method gets client_secret_basic, and the SDK authenticates with HTTP Basic', async () => {
    const redirectUrl = `http://127.0.0.1:${port()}/oauth/callback`;
    const { metadata, info, raw } = await sdkRegister({ client_name: 'SDK default client', redirect_uris: [redirectUrl] });
    expectRegistrationShape(raw, gh.issuer, { redirect_uris: [redirectUrl], auth_method: 'client_secret_basic' });
    await sdkAuthorize(metadata, info, redirectUrl);
  });
});

// Cursor's registrations as MCP server maintainers reported them: older versions one cursor-retrieval callback per
// server, current ones three callbacks (the cursor-mcp deep link, a hosted https callback and a localhost one).
describe('Cursor (private-use cursor:// callback, allowed by name through REDIRECT_URI_SCHEMES)', () => {
  const legacy = {
    client_name: 'Cursor',
    redirect_uris: ['cursor://anysphere.cursor-retrieval/oauth/user-example-mcp/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
  const current = {
    ...legacy,
    redirect_uris: ['cursor://anysphere.cursor-mcp/oauth/callback', 'https://www.cursor.com/agents/mcp/oauth/callback', 'http://localhost:8787/callback'],
  };

  it('is refused with 400 invalid_redirect_uri when the operator has not allowed the cursor scheme', async () => {
    for (const body of [legacy, current]) {
      const res = await postRegistration(gh.issuer, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_redirect_uri');
    }
  });

  it('registers its callback when REDIRECT_URI_SCHEMES=cursor, and the code is delivered to the cursor:// URI', async () => {
    const client = await registerAs(cursorGh, legacy, 'none');
    await authorizeAndRedeem(cursorGh, client, legacy.redirect_uris[0]!);
  });

  it('registers its current three callbacks when REDIRECT_URI_SCHEMES=cursor, and authorizes through each', async () => {
    const client = await registerAs(cursorGh, current, 'none');
    for (const uri of current.redirect_uris) await authorizeAndRedeem(cursorGh, client, uri);
  });

  it('opens only the listed scheme: another private-use scheme that is not a reverse domain is still refused', async () => {
    const res = await postRegistration(cursorGh.issuer, { ...legacy, redirect_uris: ['vscode://vscode.mcp/callback'] });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_redirect_uri');
  });
});

describe('a confidential client with private_key_jwt (RFC 7523) and its keys registered inline', () => {
  it('registers its public key, and redeems its code only with an assertion signed by the matching private key', async () => {
    const { SignJWT, exportJWK, generateKeyPair } = await import('jose');
    type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'agent-1', alg: 'ES256', use: 'sig' };
    const redirect = `http://127.0.0.1:${port()}/callback`;
    const reg = await postRegistration(gh.issuer, {
      client_name: 'Key-holding agent',
      redirect_uris: [redirect],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [jwk] },
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
    expect(reg.status).toBe(201);
    expect(reg.body.client_secret).toBeUndefined();
    const clientId = reg.body.client_id as string;

    const { verifier, challenge } = pkcePair();
    const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
      client_id: clientId, redirect_uri: redirect, code_challenge: challenge, code_challenge_method: 'S256', resource: TEST_RESOURCE, scope: 'tools:read',
    }, USER);
    const code = callback.searchParams.get('code')!;
    const assertion = (key: SigningKey) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'agent-1' }).setIssuer(clientId).setSubject(clientId)
        .setAudience(`${gh.issuer}/token`).setJti(randomBytes(16).toString('hex')).setIssuedAt().setExpirationTime('2m').sign(key);
    const form = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirect, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' };

    const forged = await tokenRequest(gh.issuer, { ...form, client_assertion: await assertion((await generateKeyPair('ES256')).privateKey) });
    expect(forged.status).toBe(401);
    expect(forged.body.error).toBe('invalid_client');

    const tokens = await tokenRequest(gh.issuer, { ...form, client_assertion: await assertion(privateKey) });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token as string).client_id).toBe(clientId);
  });
});
