/**
 * The node's configuration file (YAML). Every setting is documented in
 * docs/configuration.md; this module is the one place that reads them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument, LineCounter, isMap, isNode, isScalar, isSeq, visit, type Document } from 'yaml';
import { ConfigError, Reader } from './config-reader.js';
import { DEFAULT_LIMITS, type RulesetLimits } from '../ruleset/limits.js';
import { DEFAULT_MAX_EVENT_STREAMS } from '../api/stream-limit.js';
import { MAX_INPUT_DEVICES, inputDeviceNames, inputTable } from '../datapath/shared/input-devices.js';

/** `datapath.fragments`: limits of fragment reassembly (seconds, bytes, fragments). */
export interface FragmentSettings {
  timeoutIpv4: number;
  timeoutIpv6: number;
  maxBytes: number;
  maxPerDatagram: number;
}

export interface NodeConfig {
  node: {
    /** Name shown in status, logs and (later) to peers. */
    name: string;
  };
  datapath: {
    tun: string;
    offloads: boolean;
    interfaces: string[];
    routeTable: number;
    rulePriority: number;
    /** Sources (prefixes) that still reach the node itself while its datapath is down. */
    managementSources: string[];
    mtu: number;
    txQueueLen: number;
    batchSize: number;
    maxBatchesPerWake: number;
    /** Nice value of the datapath thread and its state sync worker (thread-priority.ts); absent: unchanged. */
    nice: number | undefined;
    /** Leave traffic blackholed (not bypassing the filter) when the node stops. */
    failClosed: boolean;
    /** Reassembly of IP fragments before the filter (docs/conntrack.md, "Fragments"). */
    fragments: FragmentSettings;
    /**
     * per-interface: one TUN device per steered interface, so `iif`/`iifname` and
     * `fib saddr . iif` see the real input interface; shared: one device, the input
     * interface inferred from the route back to the source.
     */
    inputDevices: 'per-interface' | 'shared';
  };
  api: {
    /** Local control socket: "auto" = /run/hafw/ctl-<netns id>.sock, found by the CLI without flags. */
    socket: string;
    /** Management listener "host:port" (absent: none); every route but /v1/health needs the token. */
    listen?: { host: string; port: number };
    /** File holding the bearer token of the management listener. */
    tokenFile?: string;
    /** File holding a second token that may only read GET /metrics (for Prometheus). */
    metricsTokenFile?: string;
    /** File holding a token that may read everything and change nothing (the console's viewers). */
    viewTokenFile?: string;
    /** The listener serves HTTPS with this certificate (chain) and key; re-read on SIGHUP. */
    /** clientCaFile: mutual TLS, client certificates must chain to it. */
    tls?: { certFile: string; keyFile: string; clientCaFile?: string };
    /** Plain HTTP on a non-loopback listen address, by choice (a TLS proxy or an isolated network in front). */
    allowPlainHttp: boolean;
    /** Concurrent GET /v1/events streams per listener; more are refused with 503. */
    maxEventStreams: number;
  };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
    /** Ruleset `log` lines per second for the whole node (0: none), and the burst. */
    rulesetRate: number;
    rulesetBurst: number;
    /** The packets of ruleset log lines also go to this pcap file (absent: none), up to pcapMaxBytes. */
    pcapFile?: string;
    pcapMaxBytes: number;
  };
  /** Absent: no VRRP; the node never moves VIPs (a standalone firewall). */
  vrrp?: VrrpConfig;
  /** State sync with the peers (absent: off). */
  sync?: SyncSettings;
  /** Poor man's failover: watch these segments while standby (docs/failover.md, "Sniff mode"). */
  sniff?: { interfaces: string[] };
  ruleset: {
    /** nft-syntax (or libnftables JSON) file; absent: no rules, everything is accepted. */
    file?: string;
    /** Directories searched for `include "name"` in the ruleset file (nft's -I; default /etc). */
    includePath: string[];
    /** Cluster-wide versions and distribution (docs/ruleset-dist.md); absent: off. */
    dist?: RulesetDistSettings;
    /** Caps on a ruleset's size and cost, whatever its way in (file, API, cluster version). */
    limits: RulesetLimits;
  };
  security: {
    /** A secret file (sync key, API token) its group or others may access: refuse to start, or warn. */
    secretFileMode: SecretFileMode;
  };
  conntrack: {
    enabled: boolean;
    maxEntries: number;
    tcpLoose: boolean;
    tcpBeLiberal: boolean;
    /** nf_conntrack_checksum: packets with a bad L4 checksum are invalid (default true). */
    checksum: boolean;
    /** Touch the hash index's pages at start (fast first inserts) or as entries arrive (less memory while the table is small). */
    prefaultIndex: boolean;
    /** Overrides of Linux's default timeouts, in seconds. */
    timeouts: Record<string, number>;
  };
}

export type SecretFileMode = 'refuse' | 'warn';

export interface SyncSettings {
  interface: string;
  /** Our address on the sync interface (default: its first IPv4 address). */
  address?: string;
  /** Multicast group (default) ... */
  group: string;
  port: number;
  /** ...or these unicast peers instead (networks without multicast). */
  peers: string[];
  nodeId: number;
  /** The shared cluster key (hex), or a file holding it. */
  key?: string;
  keyFile?: string;
  mtu: number;
  flushDelayMs: number;
  ringSlots: number;
  resendQueueSize: number;
  /**
   * Hand packets of another group's connection to its owner over the sync segment
   * (active/active with asymmetric paths; docs/active-active.md). Default: on with several
   * VRRP groups.
   */
  handoff: boolean;
  /** UDP port of the handoff on the sync address (default sync.port + 2). */
  handoffPort: number;
  /** Packets a second each peer may hand to this node (0: no cap). */
  handoffRate: number;
  /**
   * Hold the first packet of each new forwarded connection until every live peer has
   * acknowledged its state, at most this long (ms; node/datapath/worker/defer.ts): the reply
   * may come back through a peer. 0: off. Default 20 with the handoff on, else 0.
   */
  deferMs: number;
}

/** ruleset.* settings of cluster-wide distribution; address, group/peers and key come from sync. */
export interface RulesetDistSettings {
  /** UDP (announce, update) and TCP (fetch) port on the sync address; default sync.port + 1. */
  port: number;
  /** Versions kept (text and metadata) for history and rollback. */
  historySize: number;
  /** Where the history survives restarts; default /var/lib/hafw/<node name>. */
  stateDir: string;
  /** Fetch the master's version when this node drifted from it. */
  repairDrift: boolean;
  /** Behind the cluster's version for this long counts as drift. */
  driftGraceMs: number;
  announceIntervalMs: number;
  /** A starting node that hears no peer this long runs its own version and is ready. */
  startupGraceMs: number;
  /** Fetch connections the node serves at once; more are closed as they arrive. */
  maxConnections?: number;
  /** A fetch connection is closed this long after it was accepted, whatever it sends. */
  connectionDeadlineMs?: number;
}

/** Timeout names accepted under conntrack.timeouts (seconds). */
const CT_TIMEOUT_NAMES = [
  'tcpSynSent', 'tcpSynRecv', 'tcpEstablished', 'tcpFinWait', 'tcpCloseWait', 'tcpLastAck', 'tcpTimeWait', 'tcpClose',
  'tcpSynSent2', 'tcpRetrans', 'tcpUnacknowledged', 'udpUnreplied', 'udpReplied', 'icmp', 'icmpv6', 'generic',
] as const;

/**
 * One VRRP group (virtual router): its own VRID, priority and VIPs, and its own master.
 * Several groups make an active/active cluster (docs/active-active.md).
 */
export interface VrrpGroupConfig {
  /** A name for logs, metrics and notify hooks (default "vrid<N>"). */
  name: string;
  vrid: number;
  priority: number;
  /** The group's VIPs: they move together with the group's mastership. */
  vips: { interface: string; address: string }[];
}

/** Most groups a node runs: each has an advertisement thread of its own. */
export const MAX_VRRP_GROUPS = 16;

export interface VrrpConfig {
  /** Interface the advertisements are sent and received on. */
  interface: string;
  /** The first group's VRID (the one group of a single-group config). */
  vrid: number;
  /** The default priority of the groups (vrrp.priority). */
  priority: number;
  /**
   * The groups, at least one: `vrrp.groups`, or the single group that `vrrp.vrid`,
   * `vrrp.priority` and `vrrp.vips` describe.
   */
  groups: VrrpGroupConfig[];
  advertIntervalMs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** Every group's VIPs (each address moves with its own group's mastership). */
  vips: { interface: string; address: string }[];
  /** Send advertisements to these addresses instead of 224.0.0.18. */
  unicastPeers: string[];
  /** Interfaces whose link loss takes the node out of service (default: datapath.interfaces). */
  track: string[];
  /** The sync link: losing it raises an alarm only. */
  syncInterface?: string;
  announceRepeat: number;
  announceSpacingMs: number;
  /** Executables run with the new state, one at a time, in order. */
  notify: string[];
  checksum: 'pseudoHeader' | 'noPseudoHeader';
  /** SCHED_RR priority (1-99) of the thread that runs VRRP's timers; 0: use `nice` instead. */
  realtimePriority: number;
  /** Scheduling priority (nice) of that thread when real-time scheduling is off or refused. */
  nice: number;
  /**
   * A master's advertisements keep leaving (from a thread of their own) while the control
   * thread is busy for up to this long; a longer stall silences them so a backup takes over.
   */
  controlStallLimitMs: number;
}

const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/**
 * The typed config. Throws the first bad setting; given `errors`, records every one there
 * instead (the result then holds stand-ins for the bad ones: use it only to look further).
 */
export function readConfig(doc: unknown, errors?: ConfigError[]): NodeConfig {
  const top = new Reader(doc, '', errors).onlyKeys(['node', 'datapath', 'api', 'log', 'vrrp', 'ruleset', 'conntrack', 'sniff', 'sync', 'security']);
  const sec = top.section('security').onlyKeys(['secretFileMode']);
  const rs = top.section('ruleset').onlyKeys(['file', 'includePath', 'maxBytes', 'maxElements', 'maxExpandedTokens', 'distribute', 'distPort', 'historySize', 'stateDir', 'repairDrift', 'driftGraceMs', 'announceIntervalMs', 'startupGraceMs', 'distMaxConnections', 'distConnectionDeadlineMs']);
  const ct = top.section('conntrack').onlyKeys(['enabled', 'maxEntries', 'tcpLoose', 'tcpBeLiberal', 'checksum', 'prefaultIndex', 'timeouts']);
  const cto = ct.section('timeouts').onlyKeys(CT_TIMEOUT_NAMES);
  const timeouts: Record<string, number> = {};
  for (const name of CT_TIMEOUT_NAMES) if (cto.has(name)) timeouts[name] = cto.int(name, undefined, 1, 30 * 24 * 3600);
  const node = top.section('node').onlyKeys(['name']);
  const dp = top
    .section('datapath')
    .onlyKeys(['tun', 'offloads', 'interfaces', 'routeTable', 'rulePriority', 'managementSources', 'mtu', 'txQueueLen', 'batchSize', 'maxBatchesPerWake', 'nice', 'failClosed', 'fragments', 'inputDevices']);
  const frag = dp.section('fragments').onlyKeys(['timeoutIpv4', 'timeoutIpv6', 'maxBytes', 'maxPerDatagram']);
  const api = top.section('api').onlyKeys(['socket', 'listen', 'tokenFile', 'metricsTokenFile', 'viewTokenFile', 'tls', 'allowPlainHttp', 'maxEventStreams']);
  const log = top.section('log').onlyKeys(['level', 'rulesetRate', 'rulesetBurst', 'pcapFile', 'pcapMaxBytes']);
  const interfaces = dp.stringList('interfaces', ['lan', 'wan'], IFNAME, 'an interface name');
  const config: NodeConfig = {
    node: { name: node.string('name', undefined, /^[A-Za-z0-9_.-]{1,63}$/, 'a node name of letters, digits, _ . -') },
    datapath: {
      tun: dp.string('tun', 'hafw0', IFNAME, 'an interface name of at most 15 characters'),
      offloads: dp.bool('offloads', true),
      interfaces,
      // The next table (routeTable + 1) holds the node's own output routes; 253-255 are the kernel's.
      routeTable: dp.int('routeTable', 100, 1, 251),
      rulePriority: dp.int('rulePriority', 100, 6, 32763),
      managementSources: dp.stringList('managementSources', [], VIP, 'an address or prefix (192.0.2.0/24, 2001:db8::/64)'),
      mtu: dp.int('mtu', 1500, 576, 65535),
      txQueueLen: dp.int('txQueueLen', 10000, 1, 100000),
      batchSize: dp.int('batchSize', 64, 1, 1024),
      maxBatchesPerWake: dp.int('maxBatchesPerWake', 8, 1, 1024),
      // Absent: the thread keeps what it was started with (measured: no gain shown at the
      // default; docs/performance.md "Takeover: where the time goes").
      nice: dp.has('nice') ? dp.int('nice', undefined, -20, 19) : undefined,
      failClosed: dp.bool('failClosed', true),
      // Linux's ipfrag_time, ip6frag_time and ipfrag_high_thresh.
      fragments: {
        timeoutIpv4: frag.int('timeoutIpv4', 30, 1, 600),
        timeoutIpv6: frag.int('timeoutIpv6', 60, 1, 600),
        maxBytes: frag.int('maxBytes', 4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
        maxPerDatagram: frag.int('maxPerDatagram', 256, 2, 8192),
      },
      inputDevices: dp.oneOf('inputDevices', 'per-interface', ['per-interface', 'shared'] as const),
    },
    api: readApi(api),
    log: {
      level: log.oneOf('level', 'info', ['trace', 'debug', 'info', 'warn', 'error'] as const),
      rulesetRate: log.int('rulesetRate', 100, 0, 100_000),
      rulesetBurst: log.int('rulesetBurst', 200, 1, 100_000),
      pcapFile: log.has('pcapFile') ? log.string('pcapFile', undefined, /^\//, 'an absolute file path') : undefined,
      pcapMaxBytes: log.int('pcapMaxBytes', 64 * 1024 * 1024, 64 * 1024, 64 * 1024 * 1024 * 1024),
    },
    ruleset: {
      file: rs.has('file') ? rs.string('file', undefined, /./, 'a file path') : undefined,
      includePath: rs.stringList('includePath', ['/etc'], /^\//, 'an absolute directory'),
      limits: {
        maxBytes: rs.int('maxBytes', DEFAULT_LIMITS.maxBytes, 1024, 1024 * 1024 * 1024),
        maxElements: rs.int('maxElements', DEFAULT_LIMITS.maxElements, 0, 100_000_000),
        maxExpandedTokens: rs.int('maxExpandedTokens', DEFAULT_LIMITS.maxExpandedTokens, 0, 1_000_000_000),
      },
    },
    security: { secretFileMode: sec.oneOf('secretFileMode', 'refuse', ['refuse', 'warn'] as const) },
    conntrack: {
      enabled: ct.bool('enabled', true),
      maxEntries: ct.int('maxEntries', 262144, 1024, 16_777_216),
      tcpLoose: ct.bool('tcpLoose', false),
      tcpBeLiberal: ct.bool('tcpBeLiberal', false),
      checksum: ct.bool('checksum', true),
      prefaultIndex: ct.bool('prefaultIndex', true),
      timeouts,
    },
  };
  if (top.has('vrrp')) config.vrrp = readVrrp(top.section('vrrp'), interfaces);
  if (top.has('sync')) config.sync = readSync(top.section('sync'), config);
  config.ruleset.dist = readRulesetDist(rs, config);
  checkInputDevices(dp, config.datapath);
  if (top.has('sniff')) {
    const sn = top.section('sniff').onlyKeys(['interfaces']);
    config.sniff = { interfaces: sn.stringList('interfaces', interfaces, IFNAME, 'an interface name') };
    if (!config.vrrp) top.fail('sniff', 'sniff mode needs vrrp: the node sniffs while it is the standby');
    if (!config.conntrack.enabled) top.fail('sniff', 'sniff mode feeds conntrack: conntrack.enabled must be true');
  }
  return config;
}

/** A stable non-zero id from the node name (FNV-1a), so configs need not number nodes. */
/** Per-interface input devices take a table each after the output table, and names that fit a TUN device. */
function checkInputDevices(dp: Reader, d: NodeConfig['datapath']): void {
  if (d.inputDevices !== 'per-interface') return;
  const last = inputTable(d.routeTable, d.interfaces.length - 1);
  if (d.interfaces.length > MAX_INPUT_DEVICES) dp.fail(`${dp.path}.interfaces`, `inputDevices per-interface: at most ${MAX_INPUT_DEVICES} interfaces, got ${d.interfaces.length}`);
  else if (last > 252) dp.fail(`${dp.path}.routeTable`, `inputDevices per-interface takes tables routeTable+2..routeTable+${d.interfaces.length + 1} (one per interface; 253-255 are the kernel's): routeTable must be at most ${252 - d.interfaces.length - 1}, got ${d.routeTable}`);
  try {
    inputDeviceNames(d.tun, d.interfaces);
  } catch (err) {
    dp.fail(`${dp.path}.inputDevices`, (err as Error).message);
  }
}

function nameId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h === 0 ? 1 : h;
}

function readSync(v: Reader, config: NodeConfig): SyncSettings {
  v.onlyKeys(['interface', 'address', 'group', 'port', 'peers', 'nodeId', 'key', 'keyFile', 'mtu', 'flushDelayMs', 'ringSlots', 'resendQueueSize', 'handoff', 'handoffPort', 'handoffRate', 'deferMs']);
  if (!config.conntrack.enabled) v.fail('sync', 'state sync replicates conntrack: conntrack.enabled must be true');
  const key = v.has('key') ? v.secret('key', /^([0-9a-fA-F]{2}){32,}$/, 'at least 32 bytes in hex (an even number of 64+ hex digits)') : undefined;
  const keyFile = v.has('keyFile') ? v.string('keyFile', undefined, /./, 'a file path') : undefined;
  if (!v.has('key') && !v.has('keyFile')) v.fail(`${v.path}.key`, 'required: the shared cluster key (key: hex, or keyFile: path); generate one with: openssl rand -hex 32');
  const ringSlots = v.int('ringSlots', 65536, 1024, 1 << 22);
  if ((ringSlots & (ringSlots - 1)) !== 0) v.fail(`${v.path}.ringSlots`, `must be a power of two, got ${ringSlots}`);
  const resend = v.int('resendQueueSize', 4096, 64, 1 << 20);
  if ((resend & (resend - 1)) !== 0) v.fail(`${v.path}.resendQueueSize`, `must be a power of two, got ${resend}`);
  const port = v.int('port', 3780, 1, 65535);
  const handoffPort = v.int('handoffPort', port <= 65533 ? port + 2 : port - 2, 1, 65535);
  if (handoffPort === port) v.fail(`${v.path}.handoffPort`, `must differ from sync.port (${port})`);
  const handoff = v.bool('handoff', (config.vrrp?.groups.length ?? 0) > 1);
  return {
    interface: v.string('interface', undefined, IFNAME, 'an interface name'),
    address: v.has('address') ? v.string('address', undefined, VIP, 'an IP address') : undefined,
    group: v.string('group', '239.255.72.70', VIP, 'a multicast group address'),
    port,
    peers: v.stringList('peers', [], VIP, 'an IP address'),
    nodeId: v.int('nodeId', nameId(config.node.name), 1, 0xffffffff),
    key,
    keyFile,
    mtu: v.int('mtu', 1500, 576, 9000),
    flushDelayMs: v.int('flushDelayMs', 2, 0, 1000),
    ringSlots,
    resendQueueSize: resend,
    handoff,
    handoffPort,
    handoffRate: v.int('handoffRate', 20_000, 0, 10_000_000),
    deferMs: v.int('deferMs', handoff ? 20 : 0, 0, 1000),
  };
}

/** Distribution is on by default wherever state sync is: it reuses sync's segment and key. */
function readRulesetDist(v: Reader, config: NodeConfig): RulesetDistSettings | undefined {
  const on = v.bool('distribute', config.sync !== undefined);
  if (!on) return undefined;
  if (!config.sync) return v.fail(`${v.path}.distribute`, 'ruleset distribution runs on the sync segment with the sync key: configure sync, or set distribute: false', undefined);
  const announce = v.int('announceIntervalMs', 1000, 50, 60_000);
  const defaultPort = config.sync.port === 65535 ? 65534 : config.sync.port + 1;
  const port = v.int('distPort', defaultPort, 1, 65535);
  if (port === config.sync.port) v.fail(`${v.path}.distPort`, `must differ from sync.port (${config.sync.port})`);
  else if (config.sync.handoff && port === config.sync.handoffPort) v.fail(`${v.path}.distPort`, `must differ from sync.handoffPort (${config.sync.handoffPort})`);
  return {
    port,
    historySize: v.int('historySize', 20, 1, 1000),
    stateDir: v.has('stateDir') ? v.string('stateDir', undefined, /^\//, 'an absolute directory path') : `/var/lib/hafw/${config.node.name}`,
    repairDrift: v.bool('repairDrift', true),
    driftGraceMs: v.int('driftGraceMs', 10_000, 100, 3_600_000),
    announceIntervalMs: announce,
    startupGraceMs: v.int('startupGraceMs', 3000, 0, 600_000),
    maxConnections: v.int('distMaxConnections', 8, 1, 1024),
    connectionDeadlineMs: v.int('distConnectionDeadlineMs', 5000, 100, 600_000),
  };
}

const VIP = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;

const VIP_ITEM = (item: Reader): { interface: string; address: string } => {
  item.onlyKeys(['interface', 'address']);
  return { interface: item.string('interface', undefined, IFNAME, 'an interface name'), address: item.string('address', undefined, VIP, 'an address with optional /prefix') };
};

/** The address part of a VIP ("192.0.2.1/24" -> "192.0.2.1"), lower case, for duplicate checks. */
function vipKey(address: string): string {
  return address.split('/')[0]!.toLowerCase();
}

/**
 * `vrrp.groups` (several groups: active/active), or the single group of `vrrp.vrid`,
 * `vrrp.priority` and `vrrp.vips`. Both at once is refused: which one would count?
 */
function readVrrpGroups(v: Reader, defaultPriority: number): VrrpGroupConfig[] {
  if (!v.has('groups')) {
    const vips = v.list('vips', VIP_ITEM);
    if (vips.length === 0 && !v.failed(`${v.path}.vips`)) v.fail(`${v.path}.vips`, 'at least one VIP is required');
    const vrid = v.int('vrid', undefined, 1, 255);
    return [{ name: `vrid${vrid}`, vrid, priority: defaultPriority, vips }];
  }
  for (const k of ['vrid', 'vips']) {
    if (v.has(k)) v.fail(`${v.path}.${k}`, `set per group with vrrp.groups (vrrp.${k} describes the one group of a single-group config)`);
  }
  const groups = v.list('groups', (g) => {
    g.onlyKeys(['name', 'vrid', 'priority', 'vips']);
    const vrid = g.int('vrid', undefined, 1, 255);
    const name = g.has('name') ? g.string('name', undefined, /^[A-Za-z0-9_.-]{1,31}$/, 'a group name of letters, digits, _ . - (at most 31)') : `vrid${vrid}`;
    const vips = g.list('vips', VIP_ITEM);
    if (vips.length === 0 && !g.failed(`${g.path}.vips`)) g.fail(`${g.path}.vips`, 'at least one VIP is required');
    return { name, vrid, priority: g.int('priority', defaultPriority, 1, 255), vips };
  });
  if (groups.length === 0 && !v.failed(`${v.path}.groups`)) v.fail(`${v.path}.groups`, 'at least one group is required');
  if (groups.length > MAX_VRRP_GROUPS) v.fail(`${v.path}.groups`, `at most ${MAX_VRRP_GROUPS} groups, got ${groups.length}`);
  // A VRID names one virtual router on the link; a VIP can follow only one master.
  const vrids = new Map<number, number>();
  const names = new Map<string, number>();
  const vipAt = new Map<string, string>();
  groups.forEach((g, i) => {
    const at = `${v.path}.groups[${i}]`;
    const sameVrid = vrids.get(g.vrid);
    if (sameVrid !== undefined && !v.failed(`${at}.vrid`)) v.fail(`${at}.vrid`, `vrid ${g.vrid} is already the vrid of vrrp.groups[${sameVrid}]`);
    else vrids.set(g.vrid, i);
    const sameName = names.get(g.name);
    if (sameName !== undefined && !v.failed(`${at}.name`)) v.fail(`${at}.name`, `name ${g.name} is already the name of vrrp.groups[${sameName}]`);
    else names.set(g.name, i);
    g.vips.forEach((vip, j) => {
      const key = vipKey(vip.address);
      const other = vipAt.get(key);
      if (other !== undefined) v.fail(`${at}.vips[${j}].address`, `${key} is already a VIP of ${other}: an address can follow only one group's master`);
      else vipAt.set(key, `vrrp.groups[${i}]`);
    });
  });
  return groups;
}

function readVrrp(v: Reader, datapathInterfaces: string[]): VrrpConfig {
  v.onlyKeys(['interface', 'vrid', 'priority', 'advertIntervalMs', 'preempt', 'preemptDelayMs', 'vips', 'groups', 'unicastPeers', 'track', 'syncInterface', 'announceRepeat', 'announceSpacingMs', 'notify', 'checksum', 'nice', 'realtimePriority', 'controlStallLimitMs']);
  const advert = v.int('advertIntervalMs', 1000, 10, 40950);
  if (advert % 10 !== 0) v.fail(`${v.path}.advertIntervalMs`, `must be a multiple of 10 ms (VRRPv3 counts centiseconds), got ${advert}`);
  const priority = v.int('priority', 100, 1, 255);
  const groups = readVrrpGroups(v, priority);
  // The default leaves room for the longest ruleset load at the caps (about 1.3 s measured).
  const stallLimit = v.int('controlStallLimitMs', Math.max(5000, 2 * advert), 100, 600_000);
  if (stallLimit <= advert) v.fail(`${v.path}.controlStallLimitMs`, `must be longer than advertIntervalMs (${advert}), got ${stallLimit}`);
  return {
    interface: v.string('interface', undefined, IFNAME, 'an interface name'),
    vrid: groups[0]?.vrid ?? 1,
    priority,
    groups,
    advertIntervalMs: advert,
    preempt: v.bool('preempt', true),
    preemptDelayMs: v.int('preemptDelayMs', 0, 0, 3_600_000),
    vips: groups.flatMap((g) => g.vips),
    unicastPeers: v.stringList('unicastPeers', [], VIP, 'an IP address'),
    track: v.stringList('track', datapathInterfaces, IFNAME, 'an interface name'),
    syncInterface: v.has('syncInterface') ? v.string('syncInterface', undefined, IFNAME, 'an interface name') : undefined,
    announceRepeat: v.int('announceRepeat', 5, 1, 100),
    announceSpacingMs: v.int('announceSpacingMs', 200, 10, 60_000),
    notify: v.stringList('notify', [], /^\//, 'an absolute path'),
    checksum: v.oneOf('checksum', 'pseudoHeader', ['pseudoHeader', 'noPseudoHeader'] as const),
    nice: v.int('nice', -15, -20, 19),
    realtimePriority: v.int('realtimePriority', 50, 0, 99),
    controlStallLimitMs: stallLimit,
  };
}

function readApi(api: Reader): NodeConfig['api'] {
  const out: NodeConfig['api'] = { socket: api.string('socket', 'auto'), maxEventStreams: api.int('maxEventStreams', DEFAULT_MAX_EVENT_STREAMS, 0, 10_000), allowPlainHttp: api.bool('allowPlainHttp', false) };
  if (api.has('listen')) {
    const text = api.string('listen', undefined, /^(\[[0-9a-fA-F:]+\]|[0-9.]+|localhost):\d{1,5}$/, 'host:port, e.g. 127.0.0.1:8470 or [::1]:8470');
    const i = text.lastIndexOf(':');
    const port = Number(text.slice(i + 1));
    if (!api.failed(`${api.path}.listen`) && (port < 1 || port > 65535)) api.fail(`${api.path}.listen`, `port must be 1-65535, got ${port}`);
    out.listen = { host: text.slice(0, i).replace(/^\[|\]$/g, ''), port };
    if (!api.has('tokenFile')) api.fail(`${api.path}.tokenFile`, 'required with api.listen: the management listener needs a bearer token (generate one: openssl rand -hex 32)');
    else out.tokenFile = api.string('tokenFile', undefined, /./, 'a file path');
    if (api.has('metricsTokenFile')) out.metricsTokenFile = api.string('metricsTokenFile', undefined, /./, 'a file path');
    if (api.has('viewTokenFile')) out.viewTokenFile = api.string('viewTokenFile', undefined, /./, 'a file path');
    if (api.has('tls')) {
      const tls = api.section('tls').onlyKeys(['certFile', 'keyFile', 'clientCaFile']);
      out.tls = { certFile: tls.string('certFile', undefined, /./, 'a PEM certificate file'), keyFile: tls.string('keyFile', undefined, /./, 'a PEM private key file') };
      if (tls.has('clientCaFile')) out.tls.clientCaFile = tls.string('clientCaFile', undefined, /./, 'a PEM CA certificate file');
    } else if (!out.allowPlainHttp && !api.failed(`${api.path}.listen`) && !isLoopback(out.listen.host)) {
      // The bearer token and every answer would cross the network in clear text.
      api.fail(`${api.path}.listen`, `${text} is not a loopback address: serve TLS (api.tls.certFile and api.tls.keyFile) or, if a TLS proxy or an isolated network protects it, set api.allowPlainHttp: true`);
    }
  } else {
    for (const k of ['metricsTokenFile', 'viewTokenFile', 'tls', 'allowPlainHttp']) {
      if (api.has(k)) api.fail(`${api.path}.${k}`, `only used with api.listen (the control socket needs no ${k.endsWith('TokenFile') ? 'token' : 'TLS'})`);
    }
  }
  return out;
}

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves the host (or its namespace). */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Turns "a.b[2].c" into YAML path keys. */
function pathKeys(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) continue;
    if (m[1]) keys.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) keys.push(Number(idx[1]));
  }
  return keys;
}

/**
 * Alias uses a config may expand. Each `*alias` copies its anchor's whole value, so nested
 * ones multiply: ten lines of them ("billion laughs") would expand to 10^9 values. A node
 * config needs few, if any.
 */
const MAX_YAML_ALIASES = 100;

/** The document as plain data, with aliases expanded within MAX_YAML_ALIASES. */
function toPlain(doc: Document, lineCounter: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    // yaml throws a bare ReferenceError with no place (too many copies, or an alias to an
    // anchor not set yet): point at the first alias instead.
    let line: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (node.range) line = lineCounter.linePos(node.range[0]).line;
        return visit.BREAK;
      },
    });
    const msg = (err as Error).message;
    const problem = /excessive alias count/i.test(msg)
      ? `YAML aliases: expanding them would take more than ${MAX_YAML_ALIASES} alias copies (nested aliases multiply)`
      : `YAML aliases: ${msg}`;
    throw new ConfigError('', problem, file, line);
  }
}

/**
 * The line of a setting: its key's line (an item's own line in a list), or the nearest
 * parent's when it is missing. Walks the YAML nodes, so a key is found where it is
 * written, not where an alias copied it.
 */
function lineOf(doc: Document, lineCounter: LineCounter, settingPath: string): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  const at = (n: unknown): void => {
    if (isNode(n) && n.range) line = lineCounter.linePos(n.range[0]).line;
  };
  for (const k of pathKeys(settingPath)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === k);
      if (!pair) break;
      at(pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number' && node.items[k] !== undefined) {
      node = node.items[k];
      at(node);
    } else break;
  }
  return line;
}

/** What `hafw node --check` reads: every error of the file, each with its line and path. */
export interface ConfigCheck {
  /** The typed config; holds stand-ins where `errors` name a setting. Absent when the YAML itself is broken. */
  config?: NodeConfig;
  errors: ConfigError[];
  /** The line of a setting path (for errors found later, e.g. in the files it names). */
  lineOf(settingPath: string): number | undefined;
}

/** Reads the whole config and collects every error instead of stopping at the first. */
export function checkConfigText(text: string, file = '<config>'): ConfigCheck {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (p: string): number | undefined => lineOf(doc, lineCounter, p);
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => new ConfigError('', `YAML syntax: ${e.message.split('\n')[0]}`, file, lineCounter.linePos(e.pos[0]).line));
    return { errors, lineOf: where };
  }
  let js: unknown;
  try {
    js = toPlain(doc, lineCounter, file);
  } catch (err) {
    if (err instanceof ConfigError) return { errors: [err], lineOf: where };
    throw err;
  }
  const found: ConfigError[] = [];
  const config = readConfig(js, found);
  // In file order (reading order differs: vrrp is read after conntrack); a missing
  // setting at top level has no line and comes first.
  const errors = found.map((e) => new ConfigError(e.path, e.problem, file, where(e.path))).sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { config, errors, lineOf: where };
}

/** More than one error in a config file: the message lists each on its own line. */
export class ConfigErrors extends Error {
  constructor(readonly errors: ConfigError[]) {
    super(`${errors.length} errors in the config:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
  }
}

/** Parses YAML text; the first error throws, with file:line and the setting's path. Changes nothing. */
export function parseConfigText(text: string, file = '<config>'): NodeConfig {
  const r = checkConfigText(text, file);
  if (r.errors.length > 0) throw r.errors[0]!;
  return r.config!;
}

export async function loadConfig(file: string): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config: ${(err as Error).message}`, file);
  }
  // Every error at once, as `hafw node --check` lists them: an operator fixing a config at
  // start-up should not need one restart per mistake.
  const r = checkConfigText(text, file);
  if (r.errors.length === 1) throw r.errors[0]!;
  if (r.errors.length > 1) throw new ConfigErrors(r.errors);
  const config = r.config!;
  // A relative ruleset path is relative to the config file, as operators expect.
  if (config.ruleset.file && !path.isAbsolute(config.ruleset.file)) config.ruleset.file = path.resolve(path.dirname(file), config.ruleset.file);
  return config;
}
