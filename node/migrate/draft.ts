/**
 * What `hafw import` builds from keepalived.conf and conntrackd.conf before it is written
 * as a node config: the settings it could map, and every statement it could not, with its
 * place and why. Field names are the node config's (docs/configuration.md).
 */
import type { Word, Statement } from './braces.js';

/** A statement of the source file that was not mapped (or mapped with a change worth knowing). */
export interface Finding {
  file: string;
  line: number;
  col: number;
  /** The statement as written (its words, shortened). */
  setting: string;
  reason: string;
}

export interface VrrpDraft {
  interface?: string;
  vrid?: number;
  priority?: number;
  advertIntervalMs?: number;
  preempt?: boolean;
  preemptDelayMs?: number;
  vips: { interface: string; address: string }[];
  unicastPeers: string[];
  track: string[];
  notify: string[];
  announceRepeat?: number;
  announceSpacingMs?: number;
}

export interface SyncDraft {
  interface?: string;
  address?: string;
  group?: string;
  port?: number;
  peers: string[];
  keyFile: string;
  resendQueueSize?: number;
}

export interface ConfigDraft {
  name?: string;
  /** Interfaces whose traffic goes through the filter (the VIPs' interfaces). */
  interfaces: string[];
  rulesetFile?: string;
  vrrp?: VrrpDraft;
  sync?: SyncDraft;
  /** Not mapped: the operator has to decide. */
  unmapped: Finding[];
  /** Mapped, with a change the operator should know of (merged, rounded). */
  notes: Finding[];
}

export function emptyDraft(): ConfigDraft {
  return { interfaces: [], unmapped: [], notes: [] };
}

/** The words of a statement as one short string, for findings. */
export function text(s: Statement | Word[]): string {
  const words = Array.isArray(s) ? s : s.words;
  const t = words.map((w) => (/\s/.test(w.text) ? `"${w.text}"` : w.text)).join(' ') + (!Array.isArray(s) && s.children ? ' { ... }' : '');
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

/** Records a finding about statement `s` (or one word of it). */
export function finding(list: Finding[], file: string, at: Statement | Word, setting: string, reason: string): void {
  list.push({ file, line: at.line, col: at.col, setting, reason });
}

/** Adds an interface to the filtered ones once. */
export function addInterface(d: ConfigDraft, name: string): void {
  if (!d.interfaces.includes(name)) d.interfaces.push(name);
}

export const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;
