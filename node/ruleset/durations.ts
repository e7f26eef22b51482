/** nft time strings (`1h30m`, `30s`, `500ms`) <-> seconds, as JSON `timeout` holds them. */

const UNITS: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };

export function parseDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const re = /(\d+)(ms|d|h|m|s)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  return pos === text.length && pos > 0 ? total : undefined;
}

export function formatDuration(seconds: number): string {
  let ms = Math.round(seconds * 1000);
  if (ms === 0) return '0s';
  let out = '';
  for (const [u, f] of [['d', 86400000], ['h', 3600000], ['m', 60000], ['s', 1000]] as const) {
    const n = Math.floor(ms / f);
    if (n > 0) {
      out += `${n}${u}`;
      ms -= n * f;
    }
  }
  if (ms > 0) out += `${ms}ms`;
  return out;
}
