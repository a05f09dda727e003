// The audit writer's bounds (issue 16, finding 3): every field and the details are clipped, and repeated refusals
// from one source are counted rather than written one by one, per type, per /64 for IPv6, in bounded memory.
import { describe, expect, it } from '@jest/globals';
import { DETAILS_MAX_BYTES, FIELD_LIMITS, toRow } from '../../src/audit/writer.js';
import { RepeatedRefusals, sourceOf } from '../../src/audit/repeats.js';
import type { AuditEvent } from '../../src/audit/writer.js';

const huge = 'A'.repeat(20_000);

describe('an attacker-sized value cannot make a large audit row', () => {
  it('clips every text field and every details value, and the details JSON as a whole', () => {
    const row = toRow({
      type: 'console.refused', outcome: 'failure', actor: huge, clientId: huge, resource: huge, ip: huge, userAgent: huge, reason: huge, requestId: huge,
      details: { path: huge, nested: { a: { b: { c: { d: huge } } } }, list: Array.from({ length: 5000 }, () => huge), ['k'.repeat(5000)]: 1 },
    });
    for (const [field, max] of Object.entries(FIELD_LIMITS)) expect(row[field]!.length).toBeLessThanOrEqual(max);
    expect(Buffer.byteLength(row.details!)).toBeLessThanOrEqual(DETAILS_MAX_BYTES);
    expect(() => JSON.parse(row.details!) as unknown).not.toThrow();
  });

  it('many keys of multi-byte text still fit: the bound is in bytes, not characters', () => {
    const details = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, '€'.repeat(600)]));
    const row = toRow({ type: 'x', outcome: 'failure', details });
    expect(Buffer.byteLength(row.details!)).toBeLessThanOrEqual(DETAILS_MAX_BYTES);
  });

  it('keeps small details unchanged', () => {
    expect(JSON.parse(toRow({ type: 'x', outcome: 'success', details: { count: 3, client_ids: ['a', 'b'] } }).details!)).toEqual({ count: 3, client_ids: ['a', 'b'] });
  });
});

const refusal = (ip: string, type = 'request.refused', reason = 'no such endpoint'): AuditEvent => ({ type, outcome: 'failure', ip, reason });

describe('a flood of one refusal from one source is written a few times, then counted', () => {
  it('writes the first `limit` per type and source, counts the rest, and summarises them when the window ends', () => {
    const r = new RepeatedRefusals({ limit: 3, windowMs: 60_000 });
    const t0 = 1_000_000;
    const written = Array.from({ length: 100 }, (_, i) => r.admit(refusal('203.0.113.9'), t0 + i).write).filter(Boolean).length;
    expect(written).toBe(3);
    // Another type, another source, and a success are not held back by the flood.
    expect(r.admit(refusal('203.0.113.9', 'metrics.refused'), t0 + 200).write).toBe(true);
    expect(r.admit(refusal('198.51.100.7'), t0 + 200).write).toBe(true);
    expect(r.admit({ type: 'request.refused', outcome: 'success', ip: '203.0.113.9' }, t0 + 200).write).toBe(true);
    const summaries = r.drain(t0 + 60_200);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ type: 'request.refused', outcome: 'failure', ip: '203.0.113.9', details: { repeats: 97, reasons: ['no such endpoint'] } });
    expect(r.size).toBe(0);
  });

  it('a new window starts fresh and writes the summary of the old one', () => {
    const r = new RepeatedRefusals({ limit: 1, windowMs: 1000 });
    r.admit(refusal('203.0.113.9'), 0);
    r.admit(refusal('203.0.113.9'), 10);
    const next = r.admit(refusal('203.0.113.9'), 1000);
    expect(next.write).toBe(true);
    expect(next.summary?.details).toMatchObject({ repeats: 1 });
  });

  it('counts an IPv6 /64 as one source, and an IPv4-mapped address as its IPv4 address', () => {
    expect(sourceOf('2001:db8:1:2:aaaa::1')).toBe(sourceOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(sourceOf('2001:db8:1:3::1')).not.toBe(sourceOf('2001:db8:1:2::1'));
    expect(sourceOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
    const r = new RepeatedRefusals({ limit: 2, windowMs: 60_000 });
    const written = Array.from({ length: 50 }, (_, i) => r.admit(refusal(`2001:db8::${i.toString(16)}`), i).write).filter(Boolean).length;
    expect(written).toBe(2);
  });

  it('many sources share one overflow tally per type once the table is full: memory and rows stay bounded', () => {
    const r = new RepeatedRefusals({ limit: 2, windowMs: 60_000, maxSources: 10 });
    const written = Array.from({ length: 1000 }, (_, i) => r.admit(refusal(`10.0.${i >> 8}.${i & 255}`), i).write).filter(Boolean).length;
    expect(r.size).toBeLessThanOrEqual(11);
    expect(written).toBe(10 + 2); // one from each tracked source, then the overflow tally's limit
    const [overflow] = r.drain(0, true).filter((s) => s.details?.source === '*');
    expect(overflow).toMatchObject({ ip: undefined, details: { repeats: 1000 - 12 } });
  });
});
