// Password hashing runs in a bounded number of slots (src/upstream/local/hashing-slots.ts): a login storm queues
// instead of holding one argon2 memory block per attempt and every libuv pool thread.
import { describe, expect, it } from '@jest/globals';
import { availableParallelism } from 'node:os';
import { HashingSlots } from '../../src/upstream/local/hashing-slots.js';
import { hashingSlots, hashPassword, verifyPassword } from '../../src/upstream/local/passwords.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('HashingSlots', () => {
  it('never runs more than its size at once, and serves waiters in arrival order', async () => {
    const slots = new HashingSlots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const releases: Array<() => void> = [];
    const jobs = Array.from({ length: 6 }, (_, i) =>
      slots.run(async () => {
        running++;
        most = Math.max(most, running);
        order.push(i);
        await new Promise<void>((r) => releases.push(r));
        running--;
      }),
    );
    await tick();
    expect(running).toBe(2);
    expect(slots.waiting).toBe(4);
    while (releases.length) {
      releases.shift()!();
      await tick();
      await tick();
    }
    await Promise.all(jobs);
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(slots.peak).toBe(2);
  });

  it('gives the slot back when the work fails', async () => {
    const slots = new HashingSlots(1);
    await expect(slots.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(slots.run(async () => 'after')).resolves.toBe('after');
  });

  it('refuses a size below one', () => {
    expect(() => new HashingSlots(0)).toThrow();
  });

  it('bounds the real password hashing: 12 concurrent verifications use at most one slot per core, and still answer right', async () => {
    const hash = await hashPassword('correct horse battery staple');
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => verifyPassword(hash, i % 2 ? 'correct horse battery staple' : 'wrong password at all')));
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i % 2 === 1));
    expect(hashingSlots.peak).toBeLessThanOrEqual(Math.max(1, availableParallelism()));
    expect(hashingSlots.peak).toBeGreaterThanOrEqual(1);
  });
});
