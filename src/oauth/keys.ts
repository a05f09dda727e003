// Signing keys: ES256 (the default for access tokens) and RS256 (for clients that can only verify RSA ID tokens).
// Generated on first start, stored sealed with SECRET_KEY, shared by every instance through the database.
//
// Rotation (`gatehouse keys rotate`): the new key is published in /jwks from the moment it is committed, and signs
// only from its `activates_at` on. The keys it replaces stay published until every token they signed has expired
// (retired_at + the longest signed-token lifetime), so resource servers never meet an unknown `kid` for a
// valid token.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Db } from '../db/connection.js';

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateJwk: JWK;
  publicJwk: JWK;
  activatesAt: Date;
  retiredAt: Date | null;
}

interface KeyRow {
  kid: string;
  alg: SigningAlg;
  private_jwk: string;
  public_jwk: JWK | string;
  activates_at: Date | string;
  retired_at: Date | string | null;
}

const PURPOSE = 'signing-key';
// Any constant works: it serialises key creation across instances starting at the same moment.
const KEY_LOCK = 724_117;

async function generate(alg: SigningAlg): Promise<{ kid: string; privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const meta = { kid, alg, use: 'sig' };
  return { kid, privateJwk: { ...(await exportJWK(privateKey)), ...meta }, publicJwk: { ...publicJwk, ...meta } };
}

async function insertKeys(trx: Db, box: SecretBox, activatesAt: Date): Promise<string[]> {
  const kids: string[] = [];
  for (const alg of SIGNING_ALGS) {
    const key = await generate(alg);
    await trx('signing_keys').insert({
      kid: key.kid,
      alg,
      private_jwk: box.seal(JSON.stringify(key.privateJwk), PURPOSE),
      public_jwk: JSON.stringify(key.publicJwk),
      activates_at: activatesAt,
    });
    kids.push(key.kid);
  }
  return kids;
}

/** Creates the first ES256 and RS256 keys if none is usable. Safe to call from several instances at once. */
export async function ensureSigningKeys(db: Db, box: SecretBox): Promise<void> {
  await db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [KEY_LOCK]);
    for (const alg of SIGNING_ALGS) {
      const usable = await trx('signing_keys').where({ alg }).whereNull('retired_at').first('kid');
      if (!usable) {
        const key = await generate(alg);
        await trx('signing_keys').insert({
          kid: key.kid,
          alg,
          private_jwk: box.seal(JSON.stringify(key.privateJwk), PURPOSE),
          public_jwk: JSON.stringify(key.publicJwk),
          activates_at: new Date(),
        });
      }
    }
  });
}

/**
 * Adds a new key per algorithm that signs from `activateInSeconds` on, and retires the current ones at that moment.
 * `maxSignedLifetime` is the longest lifetime of a token these keys sign (access and ID tokens), so retired keys
 * stay in /jwks until the last such token has expired.
 */
export async function rotateSigningKeys(
  db: Db,
  box: SecretBox,
  options: { activateInSeconds: number; maxSignedLifetime: number },
): Promise<{ kids: string[]; activatesAt: Date }> {
  const activatesAt = new Date(Date.now() + options.activateInSeconds * 1000);
  const retiredExpire = new Date(activatesAt.getTime() + (options.maxSignedLifetime + 60) * 1000);
  return db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [KEY_LOCK]);
    await trx('signing_keys').whereNull('retired_at').update({ retired_at: activatesAt, expires_at: retiredExpire });
    const kids = await insertKeys(trx, box, activatesAt);
    return { kids, activatesAt };
  });
}

/**
 * "Rotate now", as `gatehouse keys rotate` and the console do it: make sure keys exist, then rotate with the default
 * activation delay — 0 on the embedded database (one process), two key-reload intervals on PostgreSQL so every
 * instance publishes the new key before any signs with it — and keep the old keys published for the longest
 * lifetime of a token they signed.
 */
export async function rotateKeysNow(
  db: Db,
  box: SecretBox,
  options: { embedded: boolean; keyReloadInterval: number; accessTokenTtl: number; activateInSeconds?: number | undefined },
): Promise<{ kids: string[]; activatesAt: Date }> {
  await ensureSigningKeys(db, box);
  const activateInSeconds = options.activateInSeconds ?? (options.embedded ? 0 : 2 * options.keyReloadInterval);
  const maxSignedLifetime = Math.max(options.accessTokenTtl, 3600);
  return rotateSigningKeys(db, box, { activateInSeconds, maxSignedLifetime });
}

export type SigningKeyState = 'next' | 'current' | 'retired';

export interface SigningKeyInfo {
  kid: string;
  alg: SigningAlg;
  state: SigningKeyState;
  /** In /jwks: not yet past its expiry after retirement. */
  published: boolean;
  createdAt: Date;
  activatesAt: Date;
  retiredAt: Date | null;
  expiresAt: Date | null;
}

/**
 * Every signing key with its state at `now` (for the console): next (activates later), current (the one that signs
 * now for its algorithm, by the rule of KeySet.signingKey) or retired (replaced, or past its expiry). Newest first.
 */
export async function describeSigningKeys(db: Db, now = Date.now()): Promise<SigningKeyInfo[]> {
  const rows = (await db('signing_keys')
    .select('kid', 'alg', 'created_at', 'activates_at', 'retired_at', 'expires_at')
    .orderBy('activates_at', 'desc')
    .orderBy('created_at', 'desc')
    .limit(200)) as Array<{ kid: string; alg: SigningAlg; created_at: Date | string; activates_at: Date | string; retired_at: Date | string | null; expires_at: Date | string | null }>;
  const keys = rows.map((r) => {
    const expiresAt = r.expires_at ? new Date(r.expires_at) : null;
    return {
      kid: r.kid,
      alg: r.alg,
      published: !expiresAt || expiresAt.getTime() > now,
      createdAt: new Date(r.created_at),
      activatesAt: new Date(r.activates_at),
      retiredAt: r.retired_at ? new Date(r.retired_at) : null,
      expiresAt,
    };
  });
  const current = new KeySet(keys.filter((k) => k.published).map((k) => ({ ...k, privateJwk: {}, publicJwk: {} })));
  const signing = new Set(SIGNING_ALGS.map((alg) => current.signingKey(alg, now)?.kid));
  return keys.map((k) => ({ ...k, state: k.activatesAt.getTime() > now ? 'next' : signing.has(k.kid) ? 'current' : 'retired' }));
}

/** The keys as one instance sees them at one moment. */
export class KeySet {
  constructor(readonly keys: SigningKey[]) {}

  /** The key that signs now for `alg`: the newest one whose activation time has come. */
  signingKey(alg: SigningAlg, now = Date.now()): SigningKey | undefined {
    return this.keys
      .filter((k) => k.alg === alg && k.activatesAt.getTime() <= now)
      .sort((a, b) => b.activatesAt.getTime() - a.activatesAt.getTime())[0];
  }

  /** Private JWKs for oidc-provider, the current signing keys first (it signs ID tokens with the first match). */
  providerJwks(now = Date.now()): JWK[] {
    const current = new Set(SIGNING_ALGS.map((alg) => this.signingKey(alg, now)?.kid));
    return [...this.keys].sort((a, b) => Number(current.has(b.kid)) - Number(current.has(a.kid))).map((k) => k.privateJwk);
  }

  publicJwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /** Changes when the provider must be rebuilt: a key appeared or went, or another key became the signing one. */
  fingerprint(now = Date.now()): string {
    const kids = this.keys.map((k) => k.kid).sort();
    return `${kids.join(',')}|${SIGNING_ALGS.map((alg) => this.signingKey(alg, now)?.kid).join(',')}`;
  }
}

/** A stored private key, opened; a SECRET_KEY that cannot open it is named as the problem, not a cipher error. */
function openPrivateKey(box: SecretBox, row: KeyRow): JWK {
  try {
    return JSON.parse(box.open(row.private_jwk, PURPOSE)) as JWK;
  } catch {
    throw new Error(
      `SECRET_KEY: cannot open signing key ${row.kid} stored in the database — it was sealed with another SECRET_KEY. ` +
        'Every instance on one database needs the same SECRET_KEY (unset, the one generated in DATA_DIR is used).',
    );
  }
}

/**
 * Every published key: not yet expired after retirement. Instances reload every few seconds; a key already in
 * `previous` is reused rather than decrypted again (a kid is the thumbprint of its key, so it cannot change).
 */
export async function loadKeySet(db: Db, box: SecretBox, previous?: KeySet): Promise<KeySet> {
  const rows = (await db('signing_keys')
    .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date()))
    .orderBy('activates_at', 'asc')) as KeyRow[];
  return new KeySet(
    rows.map((r) => ({
      kid: r.kid,
      alg: r.alg,
      privateJwk: previous?.keys.find((k) => k.kid === r.kid)?.privateJwk ?? openPrivateKey(box, r),
      publicJwk: (typeof r.public_jwk === 'string' ? JSON.parse(r.public_jwk) : r.public_jwk) as JWK,
      activatesAt: new Date(r.activates_at),
      retiredAt: r.retired_at ? new Date(r.retired_at) : null,
    })),
  );
}
