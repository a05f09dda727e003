// PostgreSQL text cannot hold U+0000, and jsonb also refuses unpaired UTF-16 surrogates. Values that quote what a
// client sent (a client name, a refused redirect URI) pass through here before they are stored, so one such
// character can neither fail the write (and, say, keep a refusal out of the audit log) nor leave a half-written
// record behind. Both become U+FFFD; the rest of the value is kept.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function storable(value: string): string {
  return value.replace(UNSTORABLE, '\uFFFD');
}
