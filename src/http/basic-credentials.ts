// HTTP Basic client credentials (RFC 6749 §2.3.1: base64 of the form-urlencoded client_id, ":", the
// form-urlencoded client_secret), read one way for every endpoint that takes them: strictly, so a header that is
// not exactly that shape names no client at all.
import { strictDecode } from './input-sanity.js';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** RFC 6749 §2.3.1: base64 of form-urlencoded client_id ":" form-urlencoded client_secret; undefined if malformed. */
export function basicCredentials(header: string): { id: string; secret: string } | undefined {
  const m = /^Basic +(\S+)$/i.exec(header.trim());
  if (!m || !BASE64.test(m[1]!) || m[1]!.length % 4 !== 0) return undefined;
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(m[1]!, 'base64'));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const id = strictDecode(decoded.slice(0, colon), true);
  const secret = strictDecode(decoded.slice(colon + 1), true);
  if ('problem' in id || 'problem' in secret || !id.value || !secret.value) return undefined;
  return { id: id.value, secret: secret.value };
}
