/**
 * Interface names interned to small integer ids. Rules compare ids, never strings, so
 * `iifname "lan"` costs one integer compare per packet. The datapath sets `ctx.iif` /
 * `ctx.oif` to `ids.idOf(name)` (on TUN it derives them from routes, once per route,
 * not per packet). Id 0 means "unknown / none"; a name gets its id forever.
 */
export class InterfaceNames {
  private readonly byName = new Map<string, number>();
  private readonly names: string[] = [''];

  /** The id of `name`, interning it on first use. */
  idOf(name: string): number {
    let id = this.byName.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.byName.set(name, id);
    }
    return id;
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
