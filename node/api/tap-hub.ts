/**
 * Subscribers of a datapath event stream (connection events, packet traces) on the control
 * thread: each has a filter and a sink. The datapath thread is told the whole list at each
 * change (and produces nothing when it is empty); what it sends back names, in `to`, the
 * subscribers each item is for, so the hub only routes. Control thread only.
 */

export interface TapSink<E> {
  /** Delivers one item; returns false when the client cannot take it now (dropped, counted). */
  push(item: E): boolean;
}

export class TapHub<F, E extends { to: number[] }> {
  private nextId = 1;
  private readonly subs = new Map<number, { filter: F; sink: TapSink<Omit<E, 'to'>> }>();
  /** Items a subscriber could not take (its connection's buffer was full). */
  dropped = 0;
  /** Items delivered to subscribers. */
  delivered = 0;

  constructor(
    /** Tells the datapath thread the subscribers now ([] when none). */
    private readonly apply: (subs: { id: number; filter: F }[]) => void,
  ) {}

  get size(): number {
    return this.subs.size;
  }

  /** Adds a subscriber; returns its unsubscribe. */
  subscribe(filter: F, sink: TapSink<Omit<E, 'to'>>): () => void {
    const id = this.nextId++;
    this.subs.set(id, { filter, sink });
    this.publishList();
    return () => {
      if (this.subs.delete(id)) this.publishList();
    };
  }

  /** A batch from the datapath thread. */
  dispatch(items: E[]): void {
    for (const item of items) {
      const { to, ...rest } = item;
      for (const id of to) {
        const s = this.subs.get(id);
        if (s === undefined) continue; // left while the batch was on its way
        if (s.sink.push(rest)) this.delivered++;
        else this.dropped++;
      }
    }
  }

  /** No subscriber any more (the datapath thread restarts with none). */
  clear(): void {
    this.subs.clear();
  }

  private publishList(): void {
    this.apply([...this.subs].map(([id, s]) => ({ id, filter: s.filter })));
  }
}
