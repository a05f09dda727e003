// The fetch for every outgoing request Gatehouse makes: oidc-provider's (CIMD documents, a client's jwks_uri) and the
// upstream connections' (discovery, JWKS, token, UserInfo, GitHub's REST API; docs/SECURITY.md, "Issue 16"). CIMD
// draft (draft-ietf-oauth-client-id-metadata-document), "Client Information Discovery" (200 only, a JSON media type,
// no redirects followed) and Security Considerations, "Server Side Request Forgery"; RFC 6890 for the addresses.
//
// oidc-provider's own dispatcher checks the peer address only after the TCP (and TLS) connection is made, so it
// still reaches internal hosts. Here the host is resolved first, every address it resolves to is
// checked, and the connection is opened to the checked address itself, never to the name: a second DNS answer
// (rebinding between check and connect) cannot send it elsewhere. TLS still verifies the certificate for the
// host name (SNI), and the Host header stays the name.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { isPrivateNetworkAddress, specialUseRange } from './special-use-address.js';

export interface ResolvedAddress {
  address: string;
  family: number;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface GuardedFetchOptions {
  /** CIMD_ALLOW_PRIVATE_ADDRESSES: development and tests only (config refuses it in production). */
  allowPrivateAddresses: boolean;
  /** A connection's private-network opt-in: loopback, RFC 1918, CGNAT and ULA only (never link-local or metadata). */
  allowPrivateNetwork?: boolean;
  /**
   * Hand back any status but a redirect, with its headers (an IdP's 400 at the token endpoint, 401 at UserInfo,
   * GitHub's 403/404 carry meaning the caller reads). Off: only a 200 is answered (CIMD).
   */
  anyStatus?: boolean;
  /** Whole request, resolution included. oidc-provider's own 2.5 s signal applies as well. */
  timeoutMs?: number;
  /** A ceiling for any purpose (64 KiB); a call may ask for less (CIMD documents: 5 KiB). */
  maxBodyBytes?: number;
  /** Extra trust anchors (PEM). Only code can set this (tests with a self-signed CA); no variable reaches it. */
  ca?: string | string[];
  /** How host names become addresses; dns.lookup (all addresses, resolver order) unless injected (tests). */
  resolve?: Resolver;
  /** Called with the checked address just before a socket is opened (tests assert they only ever reach loopback). */
  beforeConnect?: (address: string, port: number) => void;
}

/**
 * Where a fetch failed: `refused` before any socket (the address or the scheme), `unreachable` at the connection
 * (DNS, TCP, TLS, a socket that closed or spoke no HTTP, a timeout), `answer` on what an HTTP server answered.
 * Pages that must not become a port scanner show `unreachable` in one sentence (docs/SECURITY.md, "Issue 16").
 */
export type FailureStage = 'refused' | 'unreachable' | 'answer';

/** A refusal with a reason worded for the person on the error page and for the audit log. */
export class GuardedFetchError extends Error {
  constructor(
    readonly reason: string,
    readonly stage: FailureStage = 'answer',
  ) {
    super(reason);
    this.name = 'GuardedFetchError';
  }
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_MAX_BODY = 64 * 1024;

const systemResolver: Resolver = async (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

// A JSON media type: application/json or application/<something>+json (CIMD draft; also jwk-set+json).
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function withDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/** Resolves the host and returns the address to connect to, or refuses if any of its addresses is special. */
async function checkedAddress(hostname: string, options: GuardedFetchOptions, signal: AbortSignal): Promise<string> {
  const literal = hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(literal)) {
    addresses = [literal];
  } else {
    let resolved: ResolvedAddress[];
    try {
      resolved = await withDeadline((options.resolve ?? systemResolver)(hostname), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new GuardedFetchError(`the host name ${hostname} could not be resolved`, 'unreachable');
    }
    addresses = resolved.map((r) => r.address);
    if (!addresses.length) throw new GuardedFetchError(`the host name ${hostname} could not be resolved`, 'unreachable');
  }
  if (!options.allowPrivateAddresses) {
    // Every answer is checked, not only the one used: a name that mixes a public and an internal address is refused.
    for (const address of addresses) {
      const special = specialUseRange(address);
      if (special && !(options.allowPrivateNetwork && isPrivateNetworkAddress(address))) {
        throw new GuardedFetchError(`${hostname} resolves to a non-public address (${special}: ${address})`, 'refused');
      }
    }
  }
  return addresses[0]!;
}

const tooLarge = (limit: number) =>
  new GuardedFetchError(`the document is larger than ${limit % 1024 === 0 ? `${limit / 1024} KB` : `${limit} bytes`}`);

async function readCapped(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let received = 0;
  // Leaving the loop early (the throw) cancels the stream, so an endless body is not read to its end.
  for await (const chunk of body) {
    received += chunk.length;
    if (received > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function describeFailure(err: unknown, signal: AbortSignal): GuardedFetchError {
  if (err instanceof GuardedFetchError) return err;
  if (signal.aborted) return new GuardedFetchError('the server did not answer in time', 'unreachable');
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (err as Error).message;
  return new GuardedFetchError(`the connection failed (${detail})`, 'unreachable');
}

// Hop-by-hop and framing headers describe the bytes on the wire, not the decoded body handed back.
const NOT_CARRIED = new Set(['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const NULL_BODY = new Set([101, 204, 205, 304]);

export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
/** Per call, for one purpose (CIMD documents): a tighter body limit, and a JSON media type required. */
export interface PurposeRules {
  maxBodyBytes?: number;
  requireJsonMediaType?: boolean;
}
export type GuardedFetchFunction = (input: string | URL | Request, init?: RequestInit, rules?: PurposeRules) => Promise<Response>;

/**
 * A fetch that only reaches public addresses, follows no redirect, answers only a 200 with a body under
 * `maxBodyBytes` (and of a JSON media type when the purpose asks), and gives up after `timeoutMs`. Everything
 * else becomes a GuardedFetchError whose reason says why. The response handed back is rebuilt from the bytes
 * read, so nothing keeps the connection open afterwards.
 */
export function guardedFetch(options: GuardedFetchOptions): GuardedFetchFunction {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return async (input, init = {}, rules = {}) => {
    const maxBody = Math.min(rules.maxBodyBytes ?? Infinity, options.maxBodyBytes ?? DEFAULT_MAX_BODY);
    const url = new URL(input instanceof Request ? input.url : input.toString());
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new GuardedFetchError(`${url.protocol} URLs are not fetched`, 'refused');
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([deadline, init.signal]) : deadline;

    let agent: Agent | undefined;
    try {
      const address = await checkedAddress(url.hostname, options, signal);
      const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
      const connector = buildConnector({ ca: options.ca, timeout: timeoutMs });
      const servername = isIP(url.hostname.replace(/^\[|\]$/g, '')) ? undefined : url.hostname;
      agent = new Agent({
        connections: 1,
        connect: (opts, callback) => {
          try {
            options.beforeConnect?.(address, port);
          } catch (err) {
            callback(err as Error, null);
            return;
          }
          // `hostname` is where the socket goes: the checked address, never the name (no second resolution).
          connector({ ...opts, hostname: address, servername }, callback);
        },
      });

      const res = await undiciFetch(url, {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(new Headers(init.headers).entries()),
        ...(init.body != null ? { body: init.body as string | URLSearchParams } : {}),
        redirect: 'manual', // whatever the caller asked: a redirect could point anywhere, including inside
        signal,
        dispatcher: agent,
      });
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        const location = URL.parse(res.headers.get('location') ?? '', url);
        throw new GuardedFetchError(`redirect not allowed (HTTP ${res.status}${location ? ` to ${location.host}` : ''})`);
      }
      if (options.anyStatus) {
        if (Number(res.headers.get('content-length') ?? 0) > maxBody) {
          await res.body?.cancel();
          throw tooLarge(maxBody);
        }
        const body = await readCapped(res.body as ReadableStream<Uint8Array> | null, maxBody);
        const headers = new Headers();
        for (const [name, value] of res.headers) if (!NOT_CARRIED.has(name)) headers.append(name, value);
        return new Response(NULL_BODY.has(res.status) ? null : body, { status: res.status, statusText: res.statusText, headers });
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new GuardedFetchError(`unexpected HTTP status ${res.status}`);
      }
      const type = res.headers.get('content-type') ?? '';
      if (rules.requireJsonMediaType && !JSON_MEDIA_TYPE.test(type)) {
        await res.body?.cancel();
        throw new GuardedFetchError(`not a JSON document (content-type ${type || 'missing'})`);
      }
      if (Number(res.headers.get('content-length') ?? 0) > maxBody) {
        await res.body?.cancel();
        throw tooLarge(maxBody);
      }
      const body = await readCapped(res.body as ReadableStream<Uint8Array> | null, maxBody);
      // Only the headers a caller may act on; the body is already decoded, so no encoding or length is carried over.
      const headers = new Headers(type ? { 'content-type': type } : {});
      for (const name of ['cache-control', 'expires', 'date', 'age']) {
        const value = res.headers.get(name);
        if (value !== null) headers.set(name, value);
      }
      return new Response(body, { status: 200, headers });
    } catch (err) {
      throw describeFailure(err, signal);
    } finally {
      void agent?.destroy().catch(() => undefined);
    }
  };
}
