/**
 * The four messages of ruleset distribution and their JSON payloads. The frame around
 * them (sender, epoch, sequence, HMAC) is in codec.ts; this module only says what a
 * well-formed payload holds, so a forged or garbled one is dropped before the protocol
 * logic sees it.
 */

export const MSG_ANNOUNCE = 1;
export const MSG_UPDATE = 2;
export const MSG_FETCH_REQ = 3;
export const MSG_FETCH_RESP = 4;
export type MsgType = typeof MSG_ANNOUNCE | typeof MSG_UPDATE | typeof MSG_FETCH_REQ | typeof MSG_FETCH_RESP;

/** The role a node announces: its VRRP state, or standalone without VRRP. */
export type DistRole = 'master' | 'backup' | 'initialize' | 'standalone';
const ROLES: readonly string[] = ['master', 'backup', 'initialize', 'standalone'];

/** Every second and at once on a change: "this is the version I run". */
export interface Announce {
  name: string;
  version: number;
  hash: string;
  role: DistRole;
  ready: boolean;
}

/** Right after a commit, when the transaction fits in one datagram. */
export interface Update {
  version: number;
  baseVersion: number;
  baseHash: string;
  hash: string;
  ops: unknown;
  origin: string;
  summary: string;
  time: number;
}

/** Asks for the full canonical text of `version` (0: whatever runs now). */
interface FetchRequest {
  version: number;
  nonce: string;
}

export interface FetchResponse {
  nonce: string;
  version?: number;
  hash?: string;
  text?: string;
  origin?: string;
  summary?: string;
  time?: number;
  error?: string;
}

const HASH = /^[0-9a-f]{64}$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isVersion(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
function isStr(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length <= max;
}

export function asAnnounce(v: unknown): Announce | undefined {
  if (!isObj(v) || !isStr(v.name, 64) || !isVersion(v.version) || !isStr(v.hash, 64) || !HASH.test(v.hash)) return undefined;
  if (typeof v.role !== 'string' || !ROLES.includes(v.role) || typeof v.ready !== 'boolean') return undefined;
  return { name: v.name, version: v.version, hash: v.hash, role: v.role as DistRole, ready: v.ready };
}

export function asUpdate(v: unknown): Update | undefined {
  if (!isObj(v) || !isVersion(v.version) || !isVersion(v.baseVersion) || v.version <= v.baseVersion) return undefined;
  if (!isStr(v.hash, 64) || !HASH.test(v.hash) || !isStr(v.baseHash, 64) || !HASH.test(v.baseHash)) return undefined;
  if (v.ops === undefined || !isStr(v.origin, 64) || !isStr(v.summary, 512) || typeof v.time !== 'number') return undefined;
  return { version: v.version, baseVersion: v.baseVersion, baseHash: v.baseHash, hash: v.hash, ops: v.ops, origin: v.origin, summary: v.summary, time: v.time };
}

export function asFetchRequest(v: unknown): FetchRequest | undefined {
  if (!isObj(v) || !isVersion(v.version) || !isStr(v.nonce, 64)) return undefined;
  return { version: v.version, nonce: v.nonce };
}

export function asFetchResponse(v: unknown): FetchResponse | undefined {
  if (!isObj(v) || !isStr(v.nonce, 64)) return undefined;
  if (v.error !== undefined) return isStr(v.error, 512) ? { nonce: v.nonce, error: v.error } : undefined;
  if (!isVersion(v.version) || !isStr(v.hash, 64) || !HASH.test(v.hash) || typeof v.text !== 'string') return undefined;
  if (!isStr(v.origin, 64) || !isStr(v.summary, 512) || typeof v.time !== 'number') return undefined;
  return { nonce: v.nonce, version: v.version, hash: v.hash, text: v.text, origin: v.origin, summary: v.summary, time: v.time };
}
