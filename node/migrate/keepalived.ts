/**
 * keepalived.conf -> the `vrrp:` section (and the filtered interfaces) of a node config.
 * Facts about keepalived's keywords are from its keepalived.conf(5); hafw's side is
 * docs/failover.md. hafw runs one VRRPv3 router per node whose VIPs all move together:
 * the first vrrp_instance gives the router, the VIPs of every instance join its group (what
 * a vrrp_sync_group does in keepalived), and whatever has no equivalent is listed.
 */
import { parseAddress, parsePrefix } from '../packet/address.js';
import { blockWords, keyword, type Statement, type Word } from './braces.js';
import { IFNAME, addInterface, finding, text, type ConfigDraft, type VrrpDraft } from './draft.js';

const NODE_NAME = /^[A-Za-z0-9_.-]{1,63}$/;

/** Top-level and instance keywords that have no counterpart, with the reason given to the operator. */
const NO_EQUIVALENT: Readonly<Record<string, string>> = {
  authentication: 'VRRPv3 (RFC 5798) has no authentication; keep VRRP on a link you trust (hafw authenticates state sync and ruleset distribution with the cluster key)',
  state: 'hafw has no initial state: the node with the higher priority becomes master (set the priorities to keep the old master first)',
  track_script: 'hafw tracks interface links (vrrp.track) only; a script that should demote the node can run `hafw drill` or stop the node instead',
  unicast_src_ip: 'hafw sends unicast advertisements from the address of vrrp.interface',
  use_vmac: 'hafw moves VIPs with gratuitous ARP / unsolicited neighbour advertisements, not with a virtual MAC',
  vmac_xmit_base: 'hafw uses no virtual MAC',
  garp_master_delay: 'hafw sends its announcements at once on becoming master, then announceRepeat - 1 more announceSpacingMs apart',
  garp_master_refresh: 'hafw does not repeat announcements while master',
  notify_master: 'hafw calls the vrrp.notify executables on every change with <state> <previous> <reason>: call this script from one that tests $1 = master',
  notify_backup: 'hafw calls the vrrp.notify executables on every change with <state> <previous> <reason>: call this script from one that tests $1 = backup',
  notify_fault: 'hafw calls the vrrp.notify executables on every change with <state> <previous> <reason>: call this script from one that tests $1',
  notify_stop: 'hafw calls the vrrp.notify executables on every change with <state> <previous> <reason>: call this script from one that tests $1',
  smtp_alert: 'hafw sends no mail: watch its metrics and log events (docs/metrics.md)',
  dont_track_primary: 'hafw tracks the links listed in vrrp.track (default: datapath.interfaces)',
  native_ipv6: 'the VIPs of one hafw router may be IPv4 and IPv6 together',
  virtual_routes: 'hafw adds no routes on mastership',
  virtual_rules: 'hafw adds no ip rules on mastership',
  lvs_sync_daemon_interface: 'no LVS in hafw',
  debug: 'hafw logs with log.level',
  mcast_src_ip: 'hafw sends advertisements from the address of vrrp.interface',
};

const TOP_NO_EQUIVALENT: Readonly<Record<string, string>> = {
  vrrp_script: 'track scripts: hafw tracks interface links (vrrp.track) only',
  virtual_server: 'LVS load balancing is not part of hafw',
  virtual_server_group: 'LVS load balancing is not part of hafw',
  static_ipaddress: 'hafw does not manage static addresses: configure them with the host',
  static_routes: 'hafw does not manage static routes: configure them with the host',
  static_rules: 'hafw does not manage ip rules beyond its own',
  include: 'included files are not read: import them separately, or inline them first',
  linkbeat_use_polling: 'hafw watches links through netlink',
};

/** Seconds as keepalived writes them (a decimal) -> whole milliseconds, or undefined. */
function seconds(w: Word | undefined): number | undefined {
  if (!w || !/^\d+(\.\d+)?$/.test(w.text)) return undefined;
  return Math.round(Number(w.text) * 1000);
}

function intIn(w: Word | undefined, lo: number, hi: number): number | undefined {
  if (!w || !/^\d+$/.test(w.text)) return undefined;
  const v = Number(w.text);
  return v >= lo && v <= hi ? v : undefined;
}

function isAddress(t: string): boolean {
  try {
    if (t.includes('/')) parsePrefix(t, { strict: false });
    else parseAddress(t);
    return true;
  } catch {
    return false;
  }
}

function globalDefs(s: Statement, file: string, d: ConfigDraft, v: VrrpDraft): void {
  for (const c of s.children ?? []) {
    const k = keyword(c);
    const arg = c.words[1];
    if (k === 'router_id' && arg && NODE_NAME.test(arg.text)) d.name ??= arg.text;
    else if (k === 'vrrp_version') version(c, file, d);
    else if (k === 'vrrp_garp_master_repeat' && intIn(arg, 1, 100) !== undefined) v.announceRepeat = intIn(arg, 1, 100);
    else if (k === 'vrrp_garp_interval' && seconds(arg) !== undefined && seconds(arg)! >= 10) v.announceSpacingMs = seconds(arg);
    else finding(d.unmapped, file, c, text(c), 'a keepalived process setting with no hafw equivalent');
  }
}

function version(s: Statement, file: string, d: ConfigDraft): void {
  if (s.words[1]?.text !== '3') finding(d.unmapped, file, s, text(s), 'hafw speaks VRRPv3 only: switch keepalived to vrrp_version 3 first (one node at a time), or the two will not hear each other');
}

/** `virtual_ipaddress { ADDR[/LEN] [dev IF] [brd ..] [scope ..] [label ..] }`. */
function vips(s: Statement, file: string, d: ConfigDraft, v: VrrpDraft, instanceIf: string | undefined): void {
  for (const c of s.children ?? []) {
    const [addr, ...rest] = c.words;
    if (!addr || !isAddress(addr.text)) {
      finding(d.unmapped, file, c, text(c), 'not an address (expected ADDRESS[/PREFIX] [dev IFNAME])');
      continue;
    }
    let dev = instanceIf;
    for (let i = 0; i < rest.length; i++) {
      const w = rest[i]!;
      if (w.text === 'dev' && rest[i + 1]) dev = rest[++i]!.text;
      else if (['brd', 'broadcast', 'scope', 'label'].includes(w.text) && rest[i + 1]) {
        finding(d.notes, file, w, `${w.text} ${rest[i + 1]!.text}`, 'ignored: hafw adds VIPs with the prefix only');
        i++;
      } else finding(d.notes, file, w, w.text, 'ignored: not an option hafw knows for a VIP');
    }
    if (dev === undefined || !IFNAME.test(dev)) {
      finding(d.unmapped, file, c, text(c), 'no interface: give the instance an interface or the address a dev');
      continue;
    }
    if (v.vips.some((x) => x.address === addr.text && x.interface === dev)) continue;
    v.vips.push({ interface: dev, address: addr.text });
    addInterface(d, dev);
  }
}

function instance(s: Statement, file: string, d: ConfigDraft, v: VrrpDraft, first: boolean): void {
  const name = s.words[1]?.text ?? '';
  const ifWord = s.children?.find((c) => keyword(c) === 'interface')?.words[1];
  const ifName = ifWord && IFNAME.test(ifWord.text) ? ifWord.text : undefined;
  for (const c of s.children ?? []) {
    const k = keyword(c);
    const arg = c.words[1];
    const bad = (why: string): void => finding(d.unmapped, file, c, text(c), why);
    // Only the first instance makes the router; the others give their VIPs.
    if (!first && !['virtual_ipaddress', 'virtual_ipaddress_excluded'].includes(k)) {
      if (['interface', 'virtual_router_id', 'priority', 'advert_int', 'nopreempt', 'preempt_delay', 'state'].includes(k)) {
        finding(d.notes, file, c, `${name}: ${text(c)}`, `hafw runs one VRRP router per node: the VIPs of ${name} join the first instance's group and move with it`);
      } else if (NO_EQUIVALENT[k]) bad(NO_EQUIVALENT[k]!);
      else if (k !== 'authentication') finding(d.notes, file, c, `${name}: ${text(c)}`, 'ignored: a setting of a second instance');
      continue;
    }
    switch (k) {
      case 'interface':
        if (!ifName) bad('not an interface name');
        // Not a filtered interface by itself: a dedicated VRRP link carries no traffic (the VIPs' interfaces are).
        else v.interface = ifName;
        break;
      case 'virtual_router_id':
        if (intIn(arg, 1, 255) === undefined) bad('the VRID must be 1-255');
        else v.vrid = intIn(arg, 1, 255);
        break;
      case 'priority':
        if (intIn(arg, 1, 255) === undefined) bad('the priority must be 1-255');
        else v.priority = intIn(arg, 1, 255);
        break;
      case 'advert_int': {
        const ms = seconds(arg);
        if (ms === undefined || ms < 10 || ms > 40950) bad('the interval must be 0.01-40.95 seconds');
        else {
          const rounded = Math.round(ms / 10) * 10;
          if (rounded !== ms) finding(d.notes, file, c, text(c), `rounded to ${rounded} ms (VRRPv3 counts centiseconds)`);
          v.advertIntervalMs = rounded;
        }
        break;
      }
      case 'nopreempt':
        v.preempt = false;
        break;
      case 'preempt':
        v.preempt = true;
        break;
      case 'preempt_delay': {
        const ms = seconds(arg);
        if (ms === undefined || ms > 3_600_000) bad('the delay must be 0-3600 seconds');
        else v.preemptDelayMs = ms;
        break;
      }
      case 'virtual_ipaddress':
        vips(c, file, d, v, ifName);
        break;
      case 'virtual_ipaddress_excluded':
        finding(d.notes, file, c, text(c), 'hafw lists every VIP in its advertisements: these join vrrp.vips (keepalived on the other node must list them too)');
        vips(c, file, d, v, ifName);
        break;
      case 'track_interface':
        for (const w of blockWords(c)) {
          if (w.text === 'weight') finding(d.unmapped, file, w, 'track_interface weight', 'hafw takes a node out of service when a tracked link is down; it does not lower the priority by a weight');
          else if (IFNAME.test(w.text) && !/^-?\d+$/.test(w.text) && !v.track.includes(w.text)) v.track.push(w.text);
        }
        break;
      case 'unicast_peer':
        for (const w of blockWords(c)) {
          if (isAddress(w.text) && !w.text.includes('/')) v.unicastPeers.push(w.text);
          else finding(d.unmapped, file, w, `unicast_peer ${w.text}`, 'not an address (options of a peer such as min_ttl are not mapped)');
        }
        break;
      case 'notify':
        if (arg && arg.text.startsWith('/') && !/\s/.test(arg.text)) {
          v.notify.push(arg.text);
          finding(d.notes, file, c, text(c), 'hafw calls it with <state> <previous> <reason> (keepalived: GROUP|INSTANCE <name> <state> <priority>): check that the script reads its arguments that way');
        } else bad('vrrp.notify takes absolute paths of executables without arguments: wrap the command in a script');
        break;
      case 'garp_master_repeat':
        if (intIn(arg, 1, 100) === undefined) bad('must be 1-100');
        else v.announceRepeat = intIn(arg, 1, 100);
        break;
      case 'version':
      case 'vrrp_version':
        version(c, file, d);
        break;
      default:
        bad(NO_EQUIVALENT[k] ?? 'no hafw equivalent');
    }
  }
}

/** Maps a parsed keepalived.conf into `d`. */
export function fromKeepalived(stmts: Statement[], file: string, d: ConfigDraft): void {
  const v: VrrpDraft = d.vrrp ?? { vips: [], unicastPeers: [], track: [], notify: [] };
  let instances = 0;
  for (const s of stmts) {
    const k = keyword(s);
    if (k === 'global_defs') globalDefs(s, file, d, v);
    else if (k === 'vrrp_instance') instance(s, file, d, v, instances++ === 0);
    else if (k === 'vrrp_sync_group') finding(d.notes, file, s, text(s), 'hafw moves all VIPs of its one VRRP router together, as a sync group does');
    else finding(d.unmapped, file, s, text(s), TOP_NO_EQUIVALENT[k] ?? 'no hafw equivalent');
  }
  if (instances === 0) {
    d.unmapped.push({ file, line: 1, col: 1, setting: '(no vrrp_instance)', reason: 'the file has no vrrp_instance: no vrrp section written' });
    return;
  }
  d.vrrp = v;
}
