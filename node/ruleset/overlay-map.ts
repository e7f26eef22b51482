/**
 * A Map seen through a batch's changes. A transaction that touches one chain of a
 * table with 10,000 chains must not copy the table's maps (that would make "add one
 * rule" grow with the ruleset); it records its changes here, reads through to the
 * committed map, and `applyToBase` writes the changes into the committed map at commit
 * (when the old state is being replaced anyway). A failed batch just drops the overlay.
 */
export class OverlayMap<K, V> extends Map<K, V> {
  private readonly added = new Map<K, V>();
  private readonly removed = new Set<K>();

  constructor(readonly base: Map<K, V>) {
    super();
  }

  override get(k: K): V | undefined {
    if (this.added.has(k)) return this.added.get(k);
    return this.removed.has(k) ? undefined : this.base.get(k);
  }

  override has(k: K): boolean {
    return this.added.has(k) || (!this.removed.has(k) && this.base.has(k));
  }

  override set(k: K, v: V): this {
    this.added.set(k, v);
    this.removed.delete(k);
    return this;
  }

  override delete(k: K): boolean {
    const had = this.has(k);
    this.added.delete(k);
    if (this.base.has(k)) this.removed.add(k);
    return had;
  }

  override clear(): void {
    this.added.clear();
    for (const k of this.base.keys()) this.removed.add(k);
  }

  override *entries(): MapIterator<[K, V]> {
    for (const [k, v] of this.base) {
      if (this.removed.has(k)) continue;
      yield [k, this.added.has(k) ? (this.added.get(k) as V) : v];
    }
    for (const [k, v] of this.added) if (!this.base.has(k) || this.removed.has(k)) yield [k, v];
  }

  override *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  override *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  override forEach(fn: (v: V, k: K, m: Map<K, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }

  /** Writes the changes into the committed map and returns it. */
  applyToBase(): Map<K, V> {
    for (const k of this.removed) if (!this.added.has(k)) this.base.delete(k);
    for (const [k, v] of this.added) this.base.set(k, v);
    return this.base;
  }
}

Object.defineProperty(OverlayMap.prototype, 'size', {
  get(this: OverlayMap<unknown, unknown>) {
    let n = 0;
    for (const _ of this.entries()) n++;
    return n;
  },
});
