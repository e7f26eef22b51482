/**
 * Connection events as `hafw ct events` and GET /v1/ct/events show them (like
 * `conntrack -E`): what an event is, the filter a subscriber gives, and the event's JSON.
 * Plain data: filters cross postMessage to the datapath thread, events cross it back.
 *
 * Which tracker events become one:
 * - new: a connection entered the table (its first packet was accepted: commit);
 * - update: something an operator sees changed: the TCP state, a status bit (seen reply,
 *   assured, NAT, adopted after failover), the mark, the reply tuple (NAT). Refreshes of
 *   the timeout alone are not events here (state sync needs them, a person does not), so a
 *   connection gives a handful of updates in its life, not one per packet;
 * - destroy: the entry left the table (expiry, early drop, delete, flush, RST).
 * Replicas applied from a peer raise no event on this node (their owner's node shows
 * them); a replica that expires or is deleted here does, with owner `peer`.
 */
import type { CtEntryJson } from './ct-format.js';
import { CtEventKind, type CtSnapshot } from './ct-types.js';
import { CtMatcher, CtQueryError, checkFilter, type CtFilter } from './ct-query.js';

export const CT_EVENT_NAMES = ['new', 'update', 'destroy'] as const;
export type CtEventName = (typeof CT_EVENT_NAMES)[number];

/** What a subscriber wants: conntrack -L's filters plus the event kinds (absent: all three). */
export interface CtEventFilter extends CtFilter {
  events?: CtEventName[];
}

/** One subscriber as the datapath thread sees it: an id the control thread chose, and its filter. */
export interface CtEventSubscriber {
  id: number;
  filter: CtEventFilter;
}

export interface CtEventJson extends CtEntryJson {
  event: CtEventName;
  /** Table slot of the entry (the id `hafw ct get` takes while the entry lives). */
  id: number;
  /** Wall-clock time of the event, ms since the epoch. */
  time: number;
  /** local: this node's own connection; peer: a replica of a peer's, received through sync. */
  owner: 'local' | 'peer';
}

/** An event on its way to the control thread: `to` lists the subscribers whose filter it passed. */
export type CtEventOut = CtEventJson & { to: number[] };

/** `new,update` -> ['new', 'update']; throws CtQueryError (field `event`) on anything else. */
export function parseEventNames(text: string | string[]): CtEventName[] {
  const words = (Array.isArray(text) ? text : text.split(',')).map((w) => w.trim().toLowerCase()).filter((w) => w !== '');
  if (words.length === 0) throw new CtQueryError('event', `event must list one or more of ${CT_EVENT_NAMES.join(', ')}`);
  for (const w of words) {
    if (!(CT_EVENT_NAMES as readonly string[]).includes(w)) throw new CtQueryError('event', `event must be ${CT_EVENT_NAMES.join(', ')} (comma-separated), not '${w}'`);
  }
  return [...new Set(words)] as CtEventName[];
}

/** Checks and normalises a subscriber's filter (throws CtQueryError naming the bad field). */
export function checkEventFilter(f: CtEventFilter): CtEventFilter {
  const { events, ...rest } = f;
  const base = checkFilter(rest);
  return events === undefined ? base : { ...base, events: parseEventNames(events) };
}

const KIND_NAMES: readonly CtEventName[] = ['new', 'update', 'destroy'];

export function eventName(kind: CtEventKind): CtEventName {
  return KIND_NAMES[kind]!;
}

/** A subscriber's filter compiled once (in the datapath thread), matched per event. */
export class CtEventMatcher {
  private readonly kinds: number;
  private readonly m: CtMatcher;

  constructor(readonly id: number, f: CtEventFilter) {
    this.m = new CtMatcher(f);
    this.kinds = f.events === undefined ? 7 : f.events.reduce((b, n) => b | (1 << KIND_NAMES.indexOf(n)), 0);
  }

  /** Does the event of this kind about the entry in `snap` pass? */
  matches(kind: CtEventKind, snap: CtSnapshot): boolean {
    return (this.kinds & (1 << kind)) !== 0 && this.m.matches(snap);
  }
}
