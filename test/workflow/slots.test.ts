import { MemoryLedger } from '../../workflow/memory-ledger';
import { readSlots, reserveStandbySlot } from '../../workflow/slots';
import type { LedgerPort } from '../../workflow/ledger';

/** The ENIs the standby's slots row lists as in flight at `now`. */
const reservedOn = async (ledger: LedgerPort, id: string, now: number): Promise<string[]> => (await readSlots(ledger, id, now)).reserved;

describe('Standby slots', () => {
  const base = { standby: 'i-standby', until: 10_000, now: 1_000, boundEniIds: ['eni-p0', 'eni-x'], quota: 4 };

  it('reserves at most quota minus bound slots when many entries race for one standby', async () => {
    // Prepare: a type of 4 ENIs, primary and one secondary bound: two free slots.
    const ledger = new MemoryLedger();
    // Act: six entries reserve at once.
    const answers = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) => reserveStandbySlot(ledger, { ...base, eniId: `eni-${n}`, operationId: `op-${n}` }).catch(() => ({ ok: false as const, bound: -1, reserved: -1, quota: 4 }))),
    );
    // Assess: exactly two got a slot, and the row lists exactly those two.
    const won = answers.flatMap((a, i) => (a.ok ? [`eni-${i + 1}`] : []));
    expect(won).toHaveLength(2);
    expect((await reservedOn(ledger, 'i-standby', base.now)).sort()).toEqual(won.sort());
  });

  it('counts a repeated reservation of one ENI once, and drops it once the ENI shows bound or its deadline passed', async () => {
    const ledger = new MemoryLedger();
    expect((await reserveStandbySlot(ledger, { ...base, eniId: 'eni-a', operationId: 'op-a' })).ok).toBe(true);
    expect((await reserveStandbySlot(ledger, { ...base, eniId: 'eni-a', operationId: 'op-a' })).ok).toBe(true);
    expect(await reservedOn(ledger, 'i-standby', base.now)).toEqual(['eni-a']);
    // eni-a is bound now: it counts as bound, and the next reservation drops it from the row.
    const full = await reserveStandbySlot(ledger, { ...base, boundEniIds: ['eni-p0', 'eni-x', 'eni-a'], eniId: 'eni-b', operationId: 'op-b' });
    expect(full.ok).toBe(true);
    expect(await reservedOn(ledger, 'i-standby', base.now)).toEqual(['eni-b']);
    const over = await reserveStandbySlot(ledger, { ...base, boundEniIds: ['eni-p0', 'eni-x', 'eni-a'], eniId: 'eni-c', operationId: 'op-c' });
    expect(over).toEqual({ ok: false, bound: 3, reserved: 1, quota: 4 });
    // Past eni-b's deadline its slot is free again.
    expect((await reserveStandbySlot(ledger, { ...base, now: 10_001, boundEniIds: ['eni-p0', 'eni-x', 'eni-a'], eniId: 'eni-c', operationId: 'op-c' })).ok).toBe(true);
  });

  it('starts from the row the caller read (seen), and a row that changed since fails the compare-and-set and is read again', async () => {
    // Prepare: one free slot left (primary and eni-x bound, eni-a reserved, quota 4); the caller read the row before eni-a's reservation.
    const ledger = new MemoryLedger();
    const before = (await ledger.getLease('slots/i-standby')) ?? null;
    expect((await reserveStandbySlot(ledger, { ...base, eniId: 'eni-a', operationId: 'op-a' })).ok).toBe(true);
    // Act: two reservations from the stale read; the second would overfill the standby if the stale row were trusted.
    const first = await reserveStandbySlot(ledger, { ...base, eniId: 'eni-b', operationId: 'op-b', seen: before });
    const second = await reserveStandbySlot(ledger, { ...base, eniId: 'eni-c', operationId: 'op-c', seen: before });
    // Assess: the first got the last slot after re-reading (eni-a kept), the second is refused with the true count.
    expect(first.ok).toBe(true);
    expect(second).toEqual({ ok: false, bound: 2, reserved: 2, quota: 4 });
    expect((await reservedOn(ledger, 'i-standby', base.now)).sort()).toEqual(['eni-a', 'eni-b']);
    // A fresh read is used as is: no second read (the row is where it was read).
    const row = await ledger.getLease('slots/i-standby');
    const reads = jest.spyOn(ledger, 'getLease');
    expect((await reserveStandbySlot(ledger, { ...base, quota: 5, eniId: 'eni-d', operationId: 'op-d', seen: row ?? null })).ok).toBe(true);
    expect(reads).not.toHaveBeenCalled();
  });
});
