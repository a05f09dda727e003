// Inputs of delegation that must never become something else (docs/DELEGATION.md, docs/TOKEN-VAULT.md): an IdP's
// error text kept short and without token-like runs, and connection ids that would be an object's own machinery.
import { idpDescription } from '../../src/upstream/connector.js';
import { commonProblems } from '../../src/upstream/connection.js';
import { connectionSpec } from '../helpers/connection-spec.js';

describe('delegation inputs', () => {
  it('an IdP error description is kept short, printable, and with token-like runs masked', () => {
    const echoed = idpDescription('Refresh token 8xJ3kQ9vLm2pZr7Tq1Ws4Yb6Nc0Hd5Fg is expired\u202e\n');
    expect(echoed).toBe('Refresh token … is expired  ');
    expect(idpDescription('x'.repeat(1000)).length).toBeLessThanOrEqual(160);
    expect(idpDescription(undefined)).toBe('');
  });

  it('a connection may not be named constructor or prototype (a key of every delegation policy)', () => {
    for (const id of ['constructor', 'prototype']) {
      expect(commonProblems(connectionSpec('oidc', { id, issuer: 'https://idp.example.com' }), false)).toContainEqual(['id', `${id} is a reserved name`]);
    }
    expect(commonProblems(connectionSpec('oidc', { id: 'okta', issuer: 'https://idp.example.com' }), false).filter(([f]) => f === 'id')).toEqual([]);
  });
});
