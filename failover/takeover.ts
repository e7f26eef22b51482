/**
 * Where a takeover's time goes. The instance stamps each step of a backup becoming master
 * with its clock; this module turns the stamps into per-phase durations for logs, the
 * status API and drill reports (docs/failover.md "Takeover phases").
 */
import type { TransitionReason } from './vrrp-state-machine.js';

/** Times (the instance's clock, ms) of the steps of one takeover. */
export interface TakeoverTiming {
  reason: TransitionReason;
  /** The last advertisement this router accepted before the takeover; undefined if none. */
  lastAdvertAt: number | undefined;
  /** When the timer that made it master was due (Master_Down_Timer, or Skew_Time after a resignation). */
  dueAt: number;
  /** When that timer ran: the state change. */
  firedAt: number;
  /** The first advertisement as master left. */
  advertAt: number | undefined;
  /** The first round of gratuitous ARP / unsolicited NA left. */
  announceAt: number | undefined;
  /** The VIPs were on the interfaces (the VIP mover answered). */
  vipsAt: number | undefined;
  /** VIPs that could not be added. */
  vipsFailed: number;
}

/** Durations in ms, rounded to 0.01 ms; a step that did not happen is null. */
export interface TakeoverPhases {
  /** Last advertisement heard until the timer was due: Master_Down_Interval (or Skew_Time). */
  detect_ms: number | null;
  /** How late the timer ran after it was due (event loop delay, timer granularity). */
  timer_late_ms: number;
  /** Timer run until the first advertisement as master left. */
  advert_ms: number | null;
  /** Timer run until the first gratuitous ARP / NA round left. */
  announce_ms: number | null;
  /** Timer run until the VIPs were on the interfaces. */
  vips_ms: number | null;
  /** Last advertisement heard until the first announcement: the part of the takeover this router owns. */
  total_ms: number | null;
}

const r2 = (v: number): number => Math.round(v * 100) / 100;
const since = (t: number | undefined, from: number): number | null => (t === undefined ? null : r2(t - from));

export function takeoverPhases(t: TakeoverTiming): TakeoverPhases {
  const end = t.announceAt ?? t.vipsAt;
  return {
    detect_ms: t.lastAdvertAt === undefined ? null : r2(t.dueAt - t.lastAdvertAt),
    timer_late_ms: r2(t.firedAt - t.dueAt),
    advert_ms: since(t.advertAt, t.firedAt),
    announce_ms: since(t.announceAt, t.firedAt),
    vips_ms: since(t.vipsAt, t.firedAt),
    total_ms: t.lastAdvertAt === undefined || end === undefined ? null : r2(end - t.lastAdvertAt),
  };
}

/** The same timing on another clock (e.g. performance.now() to epoch ms: add performance.timeOrigin). */
export function shiftTiming(t: TakeoverTiming, offsetMs: number): TakeoverTiming {
  const s = (v: number | undefined): number | undefined => (v === undefined ? undefined : v + offsetMs);
  return { ...t, lastAdvertAt: s(t.lastAdvertAt), dueAt: t.dueAt + offsetMs, firedAt: t.firedAt + offsetMs, advertAt: s(t.advertAt), announceAt: s(t.announceAt), vipsAt: s(t.vipsAt) };
}
