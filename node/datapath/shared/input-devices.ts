/**
 * Names and tables of the per-interface input devices (datapath.inputDevices), shared by
 * the config check, the kernel plumbing and the daemon: one TUN device per steered
 * interface, each with its own routing table, so the datapath reads each interface's
 * traffic from its own device and knows its input interface.
 */
export type InputDevicesMode = 'per-interface' | 'shared';

/** Longest TUN device name the native addon opens (tun.c: IFNAMSIZ less the NUL, less one). */
export const TUN_NAME_MAX = 14;
/** Most steered interfaces with their own input device (and table). */
export const MAX_INPUT_DEVICES = 64;

/**
 * The per-interface input devices' names, in the order of `interfaces`: `<tun>-<ifname>`
 * (hafw0-lan) when it fits, else `<tun>-<n>` with n the interface's place in the list,
 * shortening the tun part when even that does not fit. Throws when two would collide.
 */
export function inputDeviceNames(tun: string, interfaces: readonly string[]): { tun: string; ifname: string }[] {
  const out = interfaces.map((ifname, i) => {
    const named = `${tun}-${ifname}`;
    if (named.length <= TUN_NAME_MAX) return { tun: named, ifname };
    const suffix = `-${i}`;
    return { tun: `${tun.slice(0, TUN_NAME_MAX - suffix.length)}${suffix}`, ifname };
  });
  const seen = new Set([tun]);
  for (const d of out) {
    if (seen.has(d.tun)) throw new Error(`datapath.inputDevices per-interface: the input device name ${d.tun} (for ${d.ifname}) is taken (by datapath.tun or another interface's device); rename datapath.tun or the interface, or use inputDevices: shared`);
    seen.add(d.tun);
  }
  return out;
}

/**
 * The routing table of the n-th steered interface's input device: after the TUN table and
 * the output table (table + 2 + n).
 */
export function inputTable(table: number, n: number): number {
  return table + 2 + n;
}
