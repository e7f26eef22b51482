/**
 * `meta hour`, `meta day`, `meta time`: the time a packet is classified (ctx.nowMs, the
 * datapath's wall-aligned clock), in the node's local time zone (the TZ of the hafw
 * process; UTC when none is set). nft converts a local "08:00" to UTC when the rule is
 * loaded; here the rule keeps the local time and the packet's time is made local, which
 * reads the same and also follows a daylight-saving change without a reload.
 *
 * - `meta hour "08:00"-"17:00"`: seconds since local midnight ("HH:MM" or "HH:MM:SS").
 * - `meta day "Monday"` (or 0-6, Sunday = 0, listed by name as nft lists it).
 * - `meta time "2026-01-01 00:00:00"-"2026-12-31 23:59:59"`: a local date and time (the
 *   date alone means its midnight); compared in whole seconds since the epoch.
 */
import type { Scalar } from '../ast.js';
import type { DataType } from '../data-types.js';
import { parseInteger } from '../data-types.js';
import type { Registry } from '../registry.js';

/** Local time = UTC + offset; the offset is looked up once a minute (zones change on minute boundaries). */
let offsetMinute = Number.NaN;
let offsetMs = 0;
let offsetTz: string | undefined;
function localMs(ms: number): number {
  const minute = Math.floor(ms / 60000);
  const tz = process.env.TZ;
  if (minute !== offsetMinute || tz !== offsetTz) {
    offsetMinute = minute;
    offsetTz = tz;
    offsetMs = -new Date(ms).getTimezoneOffset() * 60000;
  }
  return ms + offsetMs;
}

const quote = (v: Scalar): string => `"${String(v)}"`;

function hourSeconds(v: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(v);
  if (!m) return undefined;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const s = m[3] === undefined ? 0 : Number(m[3]);
  if (h > 23 || mi > 59 || s > 59) return undefined;
  return h * 3600 + mi * 60 + s;
}

const HOUR: DataType = {
  name: 'hour',
  help: 'local time of day: "HH:MM" or "HH:MM:SS" (ranges within one day: "08:00"-"17:00")',
  words: 1,
  bits: 32,
  ordered: true,
  quoted: true,
  fromText(word) {
    const s = hourSeconds(word);
    if (s === undefined) throw `'${word}' is not a time of day ("HH:MM" or "HH:MM:SS", 00:00-23:59:59)`;
    const hh = String(Math.floor(s / 3600)).padStart(2, '0');
    const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
    return s % 60 === 0 ? `${hh}:${mm}` : `${hh}:${mm}:${String(s % 60).padStart(2, '0')}`;
  },
  encode(v, out, off) {
    const s = typeof v === 'string' ? hourSeconds(v) : undefined;
    if (s === undefined) return `'${v}' is not a time of day ("HH:MM" or "HH:MM:SS"); a range across midnight is two ranges: { "22:00"-"23:59:59", "00:00"-"06:00" }`;
    out[off] = s;
    return null;
  },
  toText: quote,
};

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function dayIndex(v: Scalar): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 6 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const n = parseInteger(v);
  if (n !== undefined) return n <= 6 ? n : undefined;
  const i = DAYS.findIndex((d) => d.toLowerCase() === v.toLowerCase());
  return i < 0 ? undefined : i;
}

const DAY: DataType = {
  name: 'day',
  help: 'local day of the week: "Sunday" .. "Saturday", or 0-6 (Sunday = 0)',
  words: 1,
  bits: 8,
  ordered: true,
  quoted: true,
  fromText(word) {
    const i = dayIndex(word);
    if (i === undefined) throw `'${word}' is not a day of the week (${DAYS.join(', ')}, or 0-6)`;
    return DAYS[i]!;
  },
  encode(v, out, off) {
    const i = dayIndex(v);
    if (i === undefined) return `'${v}' is not a day of the week (${DAYS.join(', ')}, or 0-6)`;
    out[off] = i;
    return null;
  },
  toText: (v) => quote(typeof v === 'number' ? (DAYS[v] ?? v) : v),
};

/** "YYYY-MM-DD[ HH:MM[:SS]]" in local time -> seconds since the epoch, or undefined. */
function dateSeconds(v: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(v);
  if (!m) return undefined;
  const f = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const d = new Date(f[0]!, f[1]! - 1, f[2]!, f[3]!, f[4]!, f[5]!);
  // Date rolls 2026-02-30 over into March: such a date is not one.
  if (d.getFullYear() !== f[0] || d.getMonth() !== f[1]! - 1 || d.getDate() !== f[2] || d.getHours() !== f[3] || f[4]! > 59 || f[5]! > 59) return undefined;
  const s = Math.floor(d.getTime() / 1000);
  return s >= 0 && s <= 0xffffffff ? s : undefined;
}

const DATE: DataType = {
  name: 'date',
  help: 'local date and time: "YYYY-MM-DD HH:MM:SS" (or the date alone, its midnight)',
  words: 1,
  bits: 32,
  ordered: true,
  quoted: true,
  fromText(word) {
    if (dateSeconds(word) === undefined) throw `'${word}' is not a date ("YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS", local time, 1970-2106)`;
    return word.length === 10 ? `${word} 00:00:00` : word.length === 16 ? `${word}:00` : word;
  },
  encode(v, out, off) {
    const s = typeof v === 'string' ? dateSeconds(v) : undefined;
    if (s === undefined) return `'${v}' is not a date ("YYYY-MM-DD HH:MM:SS", local time)`;
    out[off] = s;
    return null;
  },
  toText: quote,
};

export function registerMetaTime(r: Registry): void {
  for (const t of [HOUR, DAY, DATE]) r.registerType(t);
  r.registerMatch({
    name: 'meta hour',
    keywords: ['meta', 'hour'],
    left: { meta: { key: 'hour' } },
    type: HOUR,
    families: ['ip', 'ip6', 'inet'],
    help: 'local time of day when the packet is classified (the node\'s time zone)',
    load(ctx, out, off) {
      const l = localMs(ctx.nowMs);
      out[off] = Math.floor(l / 1000) - Math.floor(l / 86400000) * 86400;
      return true;
    },
  });
  r.registerMatch({
    name: 'meta day',
    keywords: ['meta', 'day'],
    left: { meta: { key: 'day' } },
    type: DAY,
    families: ['ip', 'ip6', 'inet'],
    help: 'local day of the week when the packet is classified',
    load(ctx, out, off) {
      // 1970-01-01 was a Thursday (4).
      out[off] = (Math.floor(localMs(ctx.nowMs) / 86400000) + 4) % 7;
      return true;
    },
  });
  r.registerMatch({
    name: 'meta time',
    keywords: ['meta', 'time'],
    left: { meta: { key: 'time' } },
    type: DATE,
    families: ['ip', 'ip6', 'inet'],
    help: 'the date and time the packet is classified (compared in whole seconds)',
    load(ctx, out, off) {
      const s = Math.floor(ctx.nowMs / 1000);
      out[off] = s < 0 ? 0 : s > 0xffffffff ? 0xffffffff : s;
      return true;
    },
  });
}
