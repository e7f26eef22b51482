/**
 * conntrackd.conf -> the `sync:` section of a node config. Facts about conntrackd's
 * settings are from conntrackd.conf(5); hafw's side is docs/sync.md. conntrackd's
 * keywords are case-insensitive, so they are compared in lower case.
 *
 * What always differs: hafw's sync is authenticated with a cluster key (conntrackd's is
 * not), so the config names a key file the operator creates, the same on every node.
 */
import { parseAddress } from '../packet/address.js';
import { keyword, type Statement, type Word } from './braces.js';
import { IFNAME, finding, text, type ConfigDraft, type SyncDraft } from './draft.js';

function lower(s: Statement): string {
  return keyword(s).toLowerCase();
}

function address(w: Word | undefined, family?: 4 | 6): string | undefined {
  if (!w) return undefined;
  try {
    const a = parseAddress(w.text);
    return family === undefined || a.family === family ? w.text : undefined;
  } catch {
    return undefined;
  }
}

const PROCESS_SETTING = "a conntrackd process setting (logging, lock file, control socket, netlink buffers, scheduling): hafw's own are the log: and api: sections";

/** Per-link settings hafw has no use for, and why. */
const LINK_NO_EQUIVALENT: Readonly<Record<string, string>> = {
  sndsocketbuffer: 'hafw sizes its sync socket buffers itself',
  rcvsocketbuffer: 'hafw sizes its sync socket buffers itself',
  checksum: 'every sync message is authenticated with the cluster key, which covers more than a checksum',
};

/** One `Multicast { ... }` or `UDP { ... }` block. */
function link(s: Statement, file: string, d: ConfigDraft, out: SyncDraft, multicast: boolean): void {
  for (const c of s.children ?? []) {
    const k = lower(c);
    const arg = c.words[1];
    const bad = (why: string): void => finding(d.unmapped, file, c, text(c), why);
    if (k === 'interface') {
      if (arg && IFNAME.test(arg.text)) out.interface = arg.text;
      else bad('not an interface name');
    } else if (multicast && (k === 'ipv4_address' || k === 'ipv6_address')) {
      const g = address(arg, k === 'ipv4_address' ? 4 : 6);
      if (g) out.group = g;
      else bad('not a multicast group address');
    } else if (multicast && k === 'group') {
      // conntrackd calls the UDP port of its multicast link "Group".
      if (arg && /^\d+$/.test(arg.text) && Number(arg.text) >= 1 && Number(arg.text) <= 65535) out.port = Number(arg.text);
      else bad('not a port (1-65535)');
    } else if (multicast && k === 'ipv4_interface') {
      const a = address(arg, 4);
      if (a) out.address = a;
      else bad('not an IPv4 address');
    } else if (multicast && k === 'ipv6_interface') {
      if (arg && IFNAME.test(arg.text)) out.interface ??= arg.text;
      else bad('not an interface name');
    } else if (!multicast && (k === 'ipv4_address' || k === 'ipv6_address')) {
      const a = address(arg);
      if (a) out.address = a;
      else bad('not an address');
    } else if (!multicast && (k === 'ipv4_destination_address' || k === 'ipv6_destination_address')) {
      const a = address(arg);
      if (a && !out.peers.includes(a)) out.peers.push(a);
      else if (!a) bad('not an address');
    } else if (!multicast && k === 'port') {
      if (arg && /^\d+$/.test(arg.text) && Number(arg.text) >= 1 && Number(arg.text) <= 65535) out.port = Number(arg.text);
      else bad('not a port (1-65535)');
    } else bad(LINK_NO_EQUIVALENT[k] ?? 'no hafw equivalent');
  }
}

function mode(s: Statement, file: string, d: ConfigDraft, out: SyncDraft): void {
  const m = s.words[1]?.text.toLowerCase();
  if (m !== 'ftfw') {
    finding(d.notes, file, s, text(s), `hafw's sync is always reliable (sequence numbers, NACK and resend, like FTFW), with no ${m ?? 'other'} mode`);
  }
  for (const c of s.children ?? []) {
    const k = lower(c);
    const arg = c.words[1];
    if (k === 'resendqueuesize' && arg && /^\d+$/.test(arg.text)) {
      // hafw counts messages in a power-of-two ring, 64 to 2^20.
      const want = Math.min(Math.max(Number(arg.text), 64), 1 << 20);
      let p = 64;
      while (p < want) p *= 2;
      if (p !== Number(arg.text)) finding(d.notes, file, c, text(c), `resendQueueSize: ${p} (a power of two from 64 to 1048576)`);
      out.resendQueueSize = p;
    } else if (k === 'disableexternalcache' || k === 'disableinternalcache') {
      finding(d.unmapped, file, c, text(c), 'hafw keeps one table: replicated entries sit in the table the datapath uses, so a new master has them at once (nothing to commit)');
    } else if (k === 'startupresync') {
      finding(d.unmapped, file, c, text(c), 'a starting hafw node always asks its peer for the whole table (and VRRP waits for it)');
    } else {
      finding(d.unmapped, file, c, text(c), 'hafw times its acknowledgements and resends itself (docs/sync.md)');
    }
  }
}

function syncSection(s: Statement, file: string, d: ConfigDraft, out: SyncDraft): void {
  let links = 0;
  for (const c of s.children ?? []) {
    const k = lower(c);
    if (k === 'mode') mode(c, file, d, out);
    else if (k === 'multicast' || k === 'udp') {
      if (links++ > 0) {
        finding(d.unmapped, file, c, text(c), 'hafw syncs over one link: only the first Multicast/UDP block is mapped');
        continue;
      }
      link(c, file, d, out, k === 'multicast');
      if (k === 'udp' && out.peers.length === 0) finding(d.unmapped, file, c, text(c), 'a UDP link without IPv4_Destination_Address: add sync.peers');
    } else if (k === 'options') {
      for (const o of c.children ?? []) {
        const ok = lower(o);
        const why = ok === 'tcpwindowtracking'
          ? 'replicated TCP entries are always tracked liberally (their windows lag behind the live connection), as conntrackd does without window tracking'
          : ok === 'expectationsync'
            ? 'hafw has no conntrack helpers, so no expectations to sync'
            : 'no hafw equivalent';
        finding(d.unmapped, file, o, text(o), why);
      }
    } else finding(d.unmapped, file, c, text(c), 'no hafw equivalent');
  }
  if (links === 0) finding(d.unmapped, file, s, 'Sync', 'no Multicast or UDP link: set sync.interface');
}

function general(s: Statement, file: string, d: ConfigDraft): void {
  for (const c of s.children ?? []) {
    const k = lower(c);
    if (k === 'filter') {
      finding(d.unmapped, file, c, text(c), "hafw replicates every forwarded connection and never the node's own (those to and from its addresses), which is what an Address Ignore list of the node's addresses does; narrower filters have no equivalent");
    } else if (k === 'hashlimit' || k === 'hashsize') {
      finding(d.unmapped, file, c, text(c), "hafw keeps local and replicated entries in one table: size it with conntrack.maxEntries (like the kernel's nf_conntrack_max)");
    } else finding(d.unmapped, file, c, text(c), PROCESS_SETTING);
  }
}

/** Maps a parsed conntrackd.conf into `d`; the key file is the one the operator will create. */
export function fromConntrackd(stmts: Statement[], file: string, d: ConfigDraft, keyFile: string): void {
  const out: SyncDraft = d.sync ?? { peers: [], keyFile };
  let found = false;
  for (const s of stmts) {
    const k = lower(s);
    if (k === 'sync') {
      found = true;
      syncSection(s, file, d, out);
    } else if (k === 'general') general(s, file, d);
    else finding(d.unmapped, file, s, text(s), 'no hafw equivalent');
  }
  if (!found) {
    d.unmapped.push({ file, line: 1, col: 1, setting: '(no Sync section)', reason: 'the file has no Sync section: no sync section written' });
    return;
  }
  d.notes.push({ file, line: 1, col: 1, setting: `sync.keyFile ${keyFile}`, reason: `conntrackd has no key; hafw needs one, the same on every node: (umask 077; openssl rand -hex 32 > ${keyFile}), then copy it to the peer` });
  d.sync = out;
}
