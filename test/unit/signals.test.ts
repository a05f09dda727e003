// The pure parts of what identity providers push (docs/UNIVERSAL-LOGOUT.md): the global logout secret (made with a
// prefix, stored as a digest, matched against every stored digest), the request body and the RFC 9493 subjects
// (only email and iss_sub; every other shape a 400 naming the member), and the SET subject (SSF sub_id first, the
// event's subject else, a complex subject by its user).
import { sha256 } from '../../src/crypto/digest.js';
import { connectionOfSecret, newGlobalLogoutSecret } from '../../src/signals/global-logout-secret.js';
import { subjectOfRequest } from '../../src/signals/global-token-revocation.js';
import { SignalRefusal } from '../../src/signals/refusal.js';
import { parseSubject, subjectOfSet } from '../../src/signals/subject.js';

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SignalRefusal) return { kind: err.kind, reason: err.reason };
    throw err;
  }
  throw new Error('not refused');
};

describe('the global logout secret', () => {
  it('is ghgl_ and 32 random bytes, stored as its SHA-256', () => {
    const a = newGlobalLogoutSecret();
    const b = newGlobalLogoutSecret();
    expect(a.secret).toMatch(/^ghgl_[A-Za-z0-9_-]{43}$/);
    expect(a.hash).toBe(sha256(a.secret));
    expect(a.secret).not.toBe(b.secret);
  });

  it('names the one connection whose digest matches, and none for anything else', () => {
    const a = newGlobalLogoutSecret();
    const b = newGlobalLogoutSecret();
    const stored = [{ id: 'okta', hash: a.hash }, { id: 'entra', hash: b.hash }];
    expect(connectionOfSecret(a.secret, stored)).toBe('okta');
    expect(connectionOfSecret(b.secret, stored)).toBe('entra');
    expect(connectionOfSecret(`${a.secret}x`, stored)).toBeUndefined();
    expect(connectionOfSecret(a.hash, stored)).toBeUndefined(); // the stored digest is not a credential
    expect(connectionOfSecret(a.secret, [])).toBeUndefined();
    expect(connectionOfSecret(a.secret, [{ id: 'odd', hash: 'short' }])).toBeUndefined();
  });
});

describe('the global token revocation request', () => {
  it('reads sub_id, or subject (its earlier name), email or iss_sub', () => {
    expect(subjectOfRequest({ sub_id: { format: 'email', email: 'a@example.com' } })).toEqual({ format: 'email', email: 'a@example.com' });
    expect(subjectOfRequest({ subject: { format: 'iss_sub', iss: 'https://idp.example', sub: '42' } })).toEqual({ format: 'iss_sub', iss: 'https://idp.example', sub: '42' });
  });

  it.each([
    [null, /JSON object/],
    [[], /JSON object/],
    [{}, /sub_id is required/],
    [{ sub_id: 'a@example.com' }, /subject identifier object/],
    [{ sub_id: {} }, /format is required/],
    [{ sub_id: { format: 'opaque', id: '1' } }, /opaque is not supported/],
    [{ sub_id: { format: 'email', email: 'no-at-sign' } }, /sub_id\.email: must be an email address/],
    [{ sub_id: { format: 'email', email: 'a@example.com', extra: 1 } }, /sub_id\.extra: not a member/],
    [{ sub_id: { format: 'iss_sub', iss: '', sub: '1' } }, /sub_id\.iss/],
    [{ sub_id: { format: 'email', email: 'a@example.com' }, reason: 'x' }, /reason is not a member/],
  ])('%j is a 400', (body, reason) => {
    expect(refusal(() => subjectOfRequest(body))).toEqual({ kind: 'bad_request', reason: expect.stringMatching(reason) });
  });
});

describe('the subject of a Security Event Token', () => {
  const email = { format: 'email', email: 'a@example.com' };
  it('is sub_id (SSF 1.0) before the event\'s subject', () => {
    expect(subjectOfSet(email, { format: 'iss_sub', iss: 'x', sub: 'y' })).toEqual(email);
    expect(subjectOfSet(undefined, email)).toEqual(email);
  });
  it('of a complex subject, is its user', () => {
    expect(subjectOfSet({ format: 'complex', user: email, session: { format: 'opaque', id: 's' } }, undefined)).toEqual(email);
    expect(refusal(() => subjectOfSet({ format: 'complex', session: { format: 'opaque', id: 's' } }, undefined)).reason).toMatch(/without a user/);
  });
  it('is required', () => {
    expect(refusal(() => subjectOfSet(undefined, undefined)).reason).toMatch(/names no subject/);
    expect(refusal(() => parseSubject({ format: 'phone_number', phone_number: '+1' }, 'sub_id')).reason).toMatch(/not supported/);
  });
});
