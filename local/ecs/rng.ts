/**
 * A small seeded PRNG (mulberry32) so that the realistic profile and probabilistic faults replay: the same
 * seed and the same sequence of calls give the same answers. Not for cryptography.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** True with probability `p` (0 never draws). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    return this.next() < p;
  }

  /** Uniform in [min, max]. */
  between(min: number, max: number): number {
    return max <= min ? min : min + this.next() * (max - min);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.min(items.length - 1, Math.floor(this.next() * items.length))] as T;
  }
}
