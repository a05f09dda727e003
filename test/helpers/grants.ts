// A person's grant made the way people make them — a new account, a new public client, a password login and
// consent through the real pages — and its code redeemed. For tests about what tokens do afterwards.
import { expect } from '@jest/globals';
import { authorizeThrough, Browser, pkcePair, registerPublicClient, tokenRequest } from './browser-flow.js';
import { TEST_RESOURCE, type TestServer } from './server.js';

let people = 0;

export interface Consented {
  accountId: string;
  clientId: string;
  code: string;
  verifier: string;
  redirectUri: string;
}

/** A new person consents to tools:read on TEST_RESOURCE for a new client; returns the unredeemed code. */
export async function consentedCode(gh: TestServer, redirectUri: string): Promise<Consented> {
  const user = { email: `person${++people}-${gh.port}@example.com`, password: 'a passphrase long enough 123' };
  const accountId = (await gh.services.users.create(user)).id;
  const client = await registerPublicClient(gh.issuer, [redirectUri]);
  const { verifier, challenge } = pkcePair();
  const callback = await authorizeThrough(new Browser(gh.issuer), gh.issuer, {
    client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256', scope: 'tools:read', resource: TEST_RESOURCE,
  }, user);
  return { accountId, clientId: client.client_id as string, code: callback.searchParams.get('code')!, verifier, redirectUri };
}

/** Redeems the code (expects 200) and returns the tokens. */
export async function redeemCode(gh: TestServer, g: Pick<Consented, 'clientId' | 'code' | 'verifier' | 'redirectUri'>) {
  const res = await tokenRequest(gh.issuer, { grant_type: 'authorization_code', code: g.code, code_verifier: g.verifier, client_id: g.clientId, redirect_uri: g.redirectUri });
  expect({ status: res.status, body: res.status === 200 ? undefined : res.body }).toEqual({ status: 200, body: undefined });
  return res.body as { access_token: string; refresh_token: string };
}
