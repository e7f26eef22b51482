/**
 * What nft has and hafw's datapath cannot honour, with the reason and what to write
 * instead. hafw filters routed IP packets it reads from a TUN device (layer 3): it never
 * sees an Ethernet header, a VLAN tag or ARP, has no device ingress/egress hook, and
 * cannot hand packets to an NFQUEUE program or send copies out of a device. Such a rule
 * is refused (never accepted and ignored), in text and JSON alike, and the message says
 * why. Each entry names the construct as the operator wrote it.
 */

const TUN = "hafw's layer-3 datapath (TUN)";

/** Rule words (matches and statements) by their first keyword. */
const WORDS: Record<string, string> = {
  ether: `the Ethernet header ('ether') is not visible to ${TUN}: packets reach it without one. Match on IP addresses (ip saddr, ip6 saddr) or interfaces (iifname, oifname) instead`,
  vlan: `VLAN tags ('vlan') are not visible to ${TUN}: the kernel removes them before routing. Give each VLAN its own interface (e.g. eth0.10) and match it with iifname / oifname`,
  arp: `ARP ('arp') is not IP and never reaches ${TUN}: the node's kernel answers it. Filter ARP with the kernel's own nftables on the node (table arp) if you must`,
  queue: `'queue' hands packets to a program through the kernel's NFQUEUE; ${TUN} has no queue to hand them to. Decide here with accept, drop or reject, or run the inspecting program on a host behind the firewall`,
  dup: `'dup' has the kernel send a copy of each packet to another host or device; ${TUN} forwards each packet once and makes no copies. Mirror traffic on the switch (port mirror) or with tc mirred on the node's interfaces instead`,
  fwd: `'fwd' sends packets straight out of a device from the netdev ingress hook; ${TUN} has no such hook and forwards by the routing table. Use routes, and dnat to change the destination`,
};

const FAMILIES: Record<string, string> = {
  bridge: `family 'bridge' filters bridged (layer-2) frames; ${TUN} sees routed IP packets only. Use a table ip, ip6 or inet and match interfaces with iifname / oifname`,
  netdev: `family 'netdev' attaches to a device before the IP stack; ${TUN} is behind routing. Use a table ip, ip6 or inet with hook prerouting (priority raw for the earliest)`,
  arp: `family 'arp' filters ARP, which is not IP and never reaches ${TUN}: the node's kernel answers it. Filter ARP with the kernel's own nftables on the node if you must`,
};

const HOOKS: Record<string, string> = {
  ingress: `hook 'ingress' runs at a device's layer-2 entry, before ${TUN} sees the packet. Use hook prerouting (priority raw, -300, for the earliest)`,
  egress: `hook 'egress' runs at a device's layer-2 exit, after ${TUN} has let the packet go. Use hook postrouting`,
};

/** Why a rule starting with `word` cannot work here, or undefined when it is not such a word. */
export function layer2Word(word: string): string | undefined {
  return Object.hasOwn(WORDS, word) ? WORDS[word] : undefined;
}

/** Set key types of those headers (`type ether_addr`), or undefined. */
export function layer2Type(name: string): string | undefined {
  if (name === 'ether_addr' || name === 'ether_type') return WORDS.ether;
  if (name === 'arp_op') return WORDS.arp;
  return undefined;
}

/** Why a table family cannot work here (bridge, netdev, arp), or undefined. */
export function layer2Family(family: unknown): string | undefined {
  return typeof family === 'string' && Object.hasOwn(FAMILIES, family) ? FAMILIES[family] : undefined;
}

/** Why a chain hook cannot work here (ingress, egress), or undefined. */
export function layer2Hook(hook: unknown): string | undefined {
  return typeof hook === 'string' && Object.hasOwn(HOOKS, hook) ? HOOKS[hook] : undefined;
}

/** The JSON form: a payload selector of protocol ether / vlan / arp. */
export function layer2Selector(sel: unknown): string | undefined {
  if (sel === null || typeof sel !== 'object' || !('payload' in sel)) return undefined;
  const p = (sel as { payload: unknown }).payload;
  const proto = p !== null && typeof p === 'object' ? (p as { protocol?: unknown }).protocol : undefined;
  return proto === 'ether' || proto === 'vlan' || proto === 'arp' ? WORDS[proto] : undefined;
}

/** The JSON form: a statement object whose key is queue / dup / fwd. */
export function layer2Statement(stmt: object): string | undefined {
  const k = Object.keys(stmt)[0];
  return k === 'queue' || k === 'dup' || k === 'fwd' ? WORDS[k] : undefined;
}
