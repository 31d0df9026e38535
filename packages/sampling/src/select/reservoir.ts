import { createRng, type Rng } from "@infialign/kernels";

/**
 * A seeded uniform sample of at most `capacity` items from a stream of unknown length (Vitter's Algorithm R): the
 * same stream and seed give the same sample, and a stream no longer than `capacity` is kept whole. Memory is
 * `capacity` items.
 */
export class Reservoir<T> {
  private readonly kept: Array<{ item: T; order: number }> = [];
  private readonly rng: Rng;
  private seen = 0;

  constructor(
    readonly capacity: number,
    seed: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`[infialign/sampling] reservoir: capacity must be an integer ≥ 1, got ${capacity}`);
    this.rng = createRng(seed >>> 0);
  }

  /** Items offered so far. */
  get size(): number {
    return this.seen;
  }

  offer(item: T): void {
    const order = this.seen++;
    if (order < this.capacity) {
      this.kept.push({ item, order });
      return;
    }
    const slot = this.rng.nextInt(order + 1);
    if (slot < this.capacity) this.kept[slot] = { item, order };
  }

  /** The sample in stream order. */
  items(): T[] {
    return [...this.kept].sort((a, b) => a.order - b.order).map((k) => k.item);
  }
}
