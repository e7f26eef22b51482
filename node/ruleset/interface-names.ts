/**
 * Interface names interned to small integer ids. The datapath sets `ctx.iif` / `ctx.oif`
 * to `ids.idOf(name)` (on TUN it derives them from routes, once per route, not per
 * packet). Id 0 means "unknown / none"; a name gets its id forever.
 *
 * Rules compare the name itself, as the kernel does: its bytes, NUL-padded to IFNAMSIZ
 * (16), as four key words. Each id keeps its words, so a match copies four integers and
 * compares them; a wildcard (`"eth*"`, nft: a trailing `*` matches names with that
 * prefix) is then the interval from the prefix padded with 0x00 to the prefix padded
 * with 0xff, which the ordinary range and set structures handle.
 */
const IFNAME_WORDS = 4;
/** IFNAMSIZ less the terminating NUL. */
export const IFNAME_MAX_BYTES = 15;

const utf8 = new TextEncoder();

/** Writes a name's key words (bytes big-endian, `pad` after the name). False when too long. */
export function nameKey(name: string, out: Uint32Array, off: number, pad = 0): boolean {
  const bytes = utf8.encode(name);
  if (bytes.length > IFNAME_MAX_BYTES + 1) return false;
  for (let w = 0; w < IFNAME_WORDS; w++) {
    let v = 0;
    for (let b = 0; b < 4; b++) {
      const i = w * 4 + b;
      v = v * 256 + (i < bytes.length ? bytes[i] : pad);
    }
    out[off + w] = v >>> 0;
  }
  return true;
}

export class InterfaceNames {
  private readonly byName = new Map<string, number>();
  private readonly names: string[] = [''];
  /** Key words per id (id 0: all zero, never matched: loads fail for it). */
  private keys = new Uint32Array(IFNAME_WORDS * 16);

  /** The id of `name`, interning it on first use. */
  idOf(name: string): number {
    let id = this.byName.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.byName.set(name, id);
      if ((id + 1) * IFNAME_WORDS > this.keys.length) {
        const k = new Uint32Array(this.keys.length * 2);
        k.set(this.keys);
        this.keys = k;
      }
      // A name longer than IFNAMSIZ cannot exist in the kernel; its first 16 bytes stand for it.
      nameKey(name.length > IFNAME_MAX_BYTES ? name.slice(0, IFNAME_MAX_BYTES) : name, this.keys, id * IFNAME_WORDS);
    }
    return id;
  }

  /** Copies the key words of `id` (interned by this object) to out[off..off+4). */
  keyInto(id: number, out: Uint32Array, off: number): void {
    const k = this.keys;
    const b = id * IFNAME_WORDS;
    out[off] = k[b];
    out[off + 1] = k[b + 1];
    out[off + 2] = k[b + 2];
    out[off + 3] = k[b + 3];
  }

  /** The id if the name was interned, else 0. */
  peek(name: string): number {
    return this.byName.get(name) ?? 0;
  }

  nameOf(id: number): string | undefined {
    return id > 0 ? this.names[id] : undefined;
  }

  get size(): number {
    return this.names.length - 1;
  }
}
