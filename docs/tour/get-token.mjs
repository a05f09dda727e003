#!/usr/bin/env node
// get-token.mjs — the README tour's MCP client, in one dependency-free file (Node 20+).
//
// It does what an MCP client does against Gatehouse:
//   1. discovery   GET  $ISSUER/.well-known/oauth-authorization-server (RFC 8414)
//   2. listener    opens http://127.0.0.1:<ephemeral port>/callback to receive the result (RFC 8252 §7.3)
//   3. DCR         POST registration_endpoint: a public client (token_endpoint_auth_method "none") with that
//                  loopback redirect URI (RFC 7591)
//   4. authorize   prints an authorization URL with PKCE S256, state, and resource/scope when given, for you to
//                  open in a browser, and waits for the redirect
//   5. callback    checks state, then iss (RFC 9207), then takes the code (or reports the error)
//   6. token       POST token_endpoint with the code, code_verifier and resource (RFC 7636, RFC 8707)
//
// The token response JSON goes to stdout (so `> token.json` captures it); everything else, including the decoded
// JWT header and payload, goes to stderr.
//
// Usage:
//   node docs/tour/get-token.mjs
//   ISSUER=http://localhost:8080 RESOURCE=https://mcp.example.com/mcp SCOPE=tools:read node docs/tour/get-token.mjs > token.json
//
// Environment:
//   ISSUER    the Gatehouse issuer (default http://localhost:8080)
//   RESOURCE  the MCP server to get a token for (optional: without it, Gatehouse uses its default resource)
//   SCOPE     space-separated scopes to request (optional; without it Gatehouse asks for every scope the resource
//             defines, RFC 6749 §3.3, and the consent page lists them all: docs/DESIGN.md, "Default scope")
//   TIMEOUT   seconds to wait for the browser to come back (default 300)
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const ISSUER = (process.env.ISSUER || 'http://localhost:8080').replace(/\/+$/, '');
const RESOURCE = process.env.RESOURCE || undefined;
const SCOPE = process.env.SCOPE || undefined;
const TIMEOUT_S = Number(process.env.TIMEOUT || 300);

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stderr.write('usage: [ISSUER=...] [RESOURCE=...] [SCOPE=...] [TIMEOUT=seconds] node docs/tour/get-token.mjs > token.json\n');
  process.exit(0);
}

const say = (line = '') => process.stderr.write(`${line}\n`);

// The browser's request to the callback, answered once the response has been checked.
let pendingBrowser;

function answerBrowser(ok, text) {
  if (!pendingBrowser) return;
  pendingBrowser.writeHead(ok ? 200 : 400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  pendingBrowser.end(`<!doctype html><title>get-token</title><p>${text} You can close this window and return to the terminal.</p>\n`);
  pendingBrowser = undefined;
}

function fail(message, detail) {
  answerBrowser(false, 'Not authorized.');
  say(`\nget-token: ${message}`);
  if (detail !== undefined) say(typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2));
  process.exit(1);
}

const base64url = (buf) => Buffer.from(buf).toString('base64url');

async function readJson(res, what) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return fail(`${what}: HTTP ${res.status}, not JSON`, text.slice(0, 500));
  }
}

function decodeJwt(jwt) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) return undefined;
  const part = (p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  try {
    return { header: part(parts[0]), payload: part(parts[1]) };
  } catch {
    return undefined;
  }
}

// 1. Discovery (RFC 8414). The issuer in the document must be byte-identical to the one we asked (§3.3).
const metadataUrl = `${ISSUER}/.well-known/oauth-authorization-server`;
let metadata;
try {
  const res = await fetch(metadataUrl, { headers: { accept: 'application/json' } });
  metadata = await readJson(res, metadataUrl);
  if (!res.ok) fail(`discovery failed: HTTP ${res.status}`, metadata);
} catch (err) {
  fail(`cannot reach ${metadataUrl} (is the server running?)`, err.cause?.message ?? err.message);
}
if (metadata.issuer !== ISSUER) fail(`discovery returned issuer ${metadata.issuer}, expected ${ISSUER}`);
if (!metadata.code_challenge_methods_supported?.includes('S256')) fail('the server does not advertise PKCE S256');
if (!metadata.registration_endpoint) fail('the server has no registration_endpoint (dynamic client registration is off)');
say(`issuer      ${metadata.issuer}`);

// 2. A loopback listener on an ephemeral port receives the authorization response (RFC 8252 §7.3).
let onCallback;
const callbackReceived = new Promise((resolve) => (onCallback = resolve));
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/callback') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  if (pendingBrowser) {
    res.writeHead(409, { 'content-type': 'text/plain' }).end('a callback is already being processed\n');
    return;
  }
  pendingBrowser = res;
  onCallback(url.searchParams);
});
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const redirectUri = `http://127.0.0.1:${server.address().port}/callback`;

// 3. Dynamic client registration (RFC 7591): a public client, no secret, PKCE instead.
const registrationRes = await fetch(metadata.registration_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json' },
  body: JSON.stringify({
    client_name: 'Gatehouse tour (get-token.mjs)',
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }),
});
const client = await readJson(registrationRes, 'registration');
if (registrationRes.status !== 201) fail(`registration failed: HTTP ${registrationRes.status}`, client);
say(`client_id   ${client.client_id}`);
say(`redirect    ${redirectUri}`);

// 4. Authorization request with PKCE S256 (RFC 7636), state, and resource (RFC 8707) and scope when given.
const codeVerifier = base64url(randomBytes(32));
const codeChallenge = base64url(createHash('sha256').update(codeVerifier).digest());
const state = base64url(randomBytes(16));
const authorizeUrl = new URL(metadata.authorization_endpoint);
authorizeUrl.search = new URLSearchParams({
  response_type: 'code',
  client_id: client.client_id,
  redirect_uri: redirectUri,
  code_challenge: codeChallenge,
  code_challenge_method: 'S256',
  state,
  ...(SCOPE ? { scope: SCOPE } : {}),
  ...(RESOURCE ? { resource: RESOURCE } : {}),
}).toString();

say('\nOpen this URL in a browser, sign in and allow access:\n');
say(`  ${authorizeUrl.href}\n`);
say(`Waiting for the redirect to ${redirectUri} (up to ${TIMEOUT_S} s)…`);

const timer = setTimeout(() => fail(`no callback within ${TIMEOUT_S} s`), TIMEOUT_S * 1000);
const params = await callbackReceived;
clearTimeout(timer);
server.close(); // stop accepting; the browser's connection stays open until it is answered

// 5. The authorization response: state first (CSRF), then iss (RFC 9207 mix-up defence), then error or code.
if (params.get('state') !== state) fail('the callback state does not match the one sent: refusing the response');
if (params.has('iss') || metadata.authorization_response_iss_parameter_supported) {
  if (params.get('iss') !== metadata.issuer) fail(`the callback iss is ${params.get('iss')}, expected ${metadata.issuer}: refusing the response`);
}
if (params.has('error')) {
  fail(`authorization refused: ${params.get('error')}${params.has('error_description') ? ` (${params.get('error_description')})` : ''}`);
}
const code = params.get('code');
if (!code) fail('the callback carries neither a code nor an error');
say('callback    state and iss verified');
answerBrowser(true, 'Authorized: the code was received and is being exchanged.');

// 6. Token request: the code, the PKCE verifier, and the same resource (RFC 8707 §2.2).
const tokenRes = await fetch(metadata.token_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  body: new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: client.client_id,
    code_verifier: codeVerifier,
    ...(RESOURCE ? { resource: RESOURCE } : {}),
  }),
});
const tokens = await readJson(tokenRes, 'token request');
if (!tokenRes.ok) fail(`token request failed: HTTP ${tokenRes.status}`, tokens);

process.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);

const decoded = decodeJwt(tokens.access_token);
if (decoded) {
  say('\naccess token header (decoded, not verified):');
  say(JSON.stringify(decoded.header, null, 2));
  say('access token payload (decoded, not verified):');
  say(JSON.stringify(decoded.payload, null, 2));
} else {
  say('\nthe access token is not a JWT');
}
say(`\nclient_id ${client.client_id} — a public client: send it with refresh_token grants.`);
