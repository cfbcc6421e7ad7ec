import { standbySlotsId, type LeaseRecord, type LedgerPort } from './ledger';

/**
 * Standby slots: a per-standby row in the ledger's lease table listing the ENIs that entries have planned
 * onto it for operations still in flight. A host failure wakes one entry per failed instance at once;
 * each picks standbys from the same group by priority, and a standby's ENIs as ECS shows them lag by a
 * whole operation (validate, detach, attach). Without a shared count, each entry would see the first
 * standby with free slots and plan onto it, and the attaches past its quota would fail with
 * EniPerInstanceLimitExceeded. With it, an entry reserves a slot by compare-and-set before it starts the
 * operation; a lost race re-reads and chooses again.
 *
 *   entry A: read slots/i-s1 (v3: 5 bound + 1 reserved of 8) -> put v4 (+eni-a) ok
 *   entry B: read slots/i-s1 (v3)                            -> put v4 (+eni-b) lost -> re-read v4 -> ...
 *
 * A reservation ends when its ENI shows bound to the standby (then it counts as bound, once), or at its
 * operation's deadline. An operation that ended elsewhere (failed, superseded) keeps its slot until then:
 * the standby looks fuller than it is, never emptier.
 */

export type Reservation = NonNullable<LeaseRecord['reserved']>[number];

/** How many times a reservation retries a lost compare-and-set before giving up (the caller chooses again). */
const ReserveTries = 5;

/**
 * The slots row of `instanceId` (null: none) and the ENI ids reserved on it by operations in flight, other
 * than `exceptEniId`, live at `now`. The row is for {@link reserveStandbySlot}'s `seen`.
 */
export async function readSlots(ledger: LedgerPort, instanceId: string, now: number, exceptEniId?: string): Promise<{ row: LeaseRecord | null; reserved: string[] }> {
  const row = await ledger.getLease(standbySlotsId(instanceId));
  return { row: row ?? null, reserved: liveReservations(row, now, exceptEniId).map((r) => r.eniId) };
}

/** The reservations of a slots row live at `now`, other than `exceptEniId`'s. */
function liveReservations(lease: LeaseRecord | undefined, now: number, exceptEniId?: string): Reservation[] {
  return (lease?.reserved ?? []).filter((r) => r.until > now && r.eniId !== exceptEniId);
}

export type SlotAnswer =
  | { readonly ok: true }
  /** Full: `bound` ENIs on it (primary included) and `reserved` in flight reach `quota`. */
  | { readonly ok: false; readonly bound: number; readonly reserved: number; readonly quota: number };

/**
 * Reserves one slot of `standby` for `eniId` (operation `operationId`, until `until`). `boundEniIds` are the
 * ENIs ECS shows on it now, primary included; `quota` its type's EniQuantity. Guarantees: after `ok`, the
 * row lists the reservation and at no moment did bound + reserved ENIs exceed `quota`; a reservation of the
 * same ENI is replaced, not added (a repeated trigger reserves once); reservations of ENIs now bound, or
 * past their deadline, are dropped as it writes. Throws when the row changed {@link ReserveTries} times in a
 * row (the caller's trigger is retried). `seen`: the row as the caller just read it (null: absent), used
 * for the first try instead of a read; a row that changed since fails the compare-and-set and is read again.
 */
export async function reserveStandbySlot(
  ledger: LedgerPort,
  args: { standby: string; eniId: string; operationId: string; until: number; now: number; boundEniIds: readonly string[]; quota: number; seen?: LeaseRecord | null },
): Promise<SlotAnswer> {
  const id = standbySlotsId(args.standby);
  const bound = new Set(args.boundEniIds.filter((e) => e !== args.eniId));
  for (let tries = 0; tries < ReserveTries; tries++) {
    const lease = tries === 0 && args.seen !== undefined ? (args.seen ?? undefined) : await ledger.getLease(id);
    const others = liveReservations(lease, args.now, args.eniId).filter((r) => !bound.has(r.eniId));
    if (bound.size + others.length >= args.quota) return { ok: false, bound: bound.size, reserved: others.length, quota: args.quota };
    const next: LeaseRecord = {
      resourceId: id,
      version: (lease?.version ?? 0) + 1,
      operationId: '',
      until: 0,
      holders: [],
      reserved: [...others, { eniId: args.eniId, operationId: args.operationId, until: args.until }],
      updatedAt: args.now,
    };
    if (await ledger.putLease(next)) return { ok: true };
  }
  throw new Error(`the slots of ${args.standby} changed ${ReserveTries} times in a row; try again`);
}
