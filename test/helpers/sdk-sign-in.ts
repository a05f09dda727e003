// The official MCP SDK client (v1) signing in through Gatehouse the way a person would: connect → 401 → the SDK's
// discovery and registration → the person signs in and allows (over real HTTP with a cookie jar) → finishAuth.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Browser, consent, login } from './browser-flow.js';
import type { TestOAuthProvider } from './sdk-oauth-provider.js';

export interface Person {
  email: string;
  password: string;
}

/** The person's part: sign in and press Allow (or meet a denial); returns the redirect to the client. */
export async function personAuthorizes(issuer: string, url: URL, user: Person): Promise<URL | Response> {
  const browser = new Browser(issuer);
  let step = await browser.follow(await browser.get(url.href));
  if (step instanceof Response && (await step.clone().text()).includes('name="password"')) step = await login(browser, step, user.email, user.password);
  if (step instanceof Response && (await step.clone().text()).includes('value="allow"')) step = await consent(browser, step, 'allow');
  return step;
}

/** The whole first sign-in of an SDK client against `mcpUrl`; resolves once the provider holds tokens. */
export async function sdkSignIn(issuer: string, mcpUrl: string, provider: TestOAuthProvider, user: Person): Promise<URL> {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const refused = await new Client({ name: 'gatehouse-test', version: '1.0.0' }).connect(transport).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(refused instanceof UnauthorizedError)) throw new Error(`expected the SDK to meet 401 first, got ${String(refused)}`);
  const back = await personAuthorizes(issuer, provider.authorizationUrl!, user);
  if (!(back instanceof URL)) throw new Error(`authorization ended on ${back.status}: ${(await back.text()).slice(0, 300)}`);
  const code = back.searchParams.get('code');
  if (code) await transport.finishAuth(code);
  return back;
}

/** A connected SDK client using the provider's tokens. */
export async function sdkConnect(mcpUrl: string, provider: TestOAuthProvider): Promise<Client> {
  const client = new Client({ name: 'gatehouse-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
  return client;
}
