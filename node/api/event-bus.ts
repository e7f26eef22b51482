/**
 * The node-wide event bus: ruleset commits, VRRP transitions, sync alarms, drill progress
 * and (from ruleset-dist/) cluster-wide ruleset distribution all go through one bus, so
 * GET /v1/events and `hafw monitor` show one ordered stream. Control thread only; never on
 * the per-packet path (events are rare: a few per second at most).
 */

/** The event types the node publishes; others (e.g. 'ruleset-dist') may be added by modules. */
export const EVENT_TYPES = ['ruleset', 'ruleset-dist', 'vrrp', 'sync', 'drill'] as const;
export type KnownEventType = (typeof EVENT_TYPES)[number];

export interface BusEvent {
  /** Increases by one per event on this node (the SSE `id`). */
  seq: number;
  type: string;
  /** Wall-clock time of publication, ISO 8601. */
  time: string;
  data: unknown;
}

export type EventListener = (ev: BusEvent) => void;

export class EventBus {
  private seqNo = 0;
  private readonly subs = new Set<{ types: ReadonlySet<string> | null; fn: EventListener }>();
  /** The last few events, so a drill report or a late subscriber can be checked in tests. */
  private readonly recentEvents: BusEvent[] = [];

  constructor(private readonly keep = 100) {}

  get seq(): number {
    return this.seqNo;
  }

  /** Delivers `data` to every subscriber whose filter admits `type`; a throwing subscriber does not stop the others. */
  publish(type: string, data: unknown): BusEvent {
    const ev: BusEvent = { seq: ++this.seqNo, type, time: new Date().toISOString(), data };
    this.recentEvents.push(ev);
    if (this.recentEvents.length > this.keep) this.recentEvents.shift();
    for (const s of [...this.subs]) {
      if (s.types !== null && !s.types.has(type)) continue;
      try {
        s.fn(ev);
      } catch {
        /* one broken stream must not silence the others */
      }
    }
    return ev;
  }

  /** `types`: the event types wanted (undefined or empty: all). Returns the unsubscribe. */
  subscribe(types: Iterable<string> | undefined, fn: EventListener): () => void {
    const set = types === undefined ? null : new Set(types);
    const sub = { types: set !== null && set.size > 0 ? set : null, fn };
    this.subs.add(sub);
    return () => void this.subs.delete(sub);
  }

  get subscribers(): number {
    return this.subs.size;
  }

  recent(): readonly BusEvent[] {
    return this.recentEvents;
  }
}

/** `?types=vrrp,drill` -> ['vrrp', 'drill']; unknown names are kept (modules may add types). */
export function parseTypes(q: string | undefined): string[] | undefined {
  if (q === undefined || q.trim() === '') return undefined;
  return q.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
}
