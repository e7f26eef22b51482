/**
 * GET /v1/cluster: the cluster as this node sees it, assembled from its status, its VRRP
 * instance (the routers it hears) and the sync report (the peers it exchanges state with).
 * Pure: the daemon passes the pieces in.
 */
import type { NodeStatus } from './server.js';
import type { DistStatus, NodeVersion } from '../../ruleset-dist/index.js';
import type { SyncReportView } from './cluster-routes.js';

export interface VrrpPeerHeard {
  address: string;
  priority: number;
  lastHeardMs: number;
  adverts: number;
}

export interface ClusterInfo {
  node: string;
  role: string;
  /** Effective (advertised) and configured priority; null without VRRP. */
  priority: number | null;
  configuredPriority: number | null;
  vrrpState: string | null;
  /** The virtual addresses of the VRRP instance; `held`: on this node's interfaces now (it is master). */
  vips: { interface: string; address: string; held: boolean }[];
  /** The master as this node knows it: itself, the router it hears, or null. */
  master: { address: string; priority: number; self: boolean } | null;
  peers: {
    vrrp: VrrpPeerHeard[];
    sync: { node: number; epoch: number; inSync: boolean; lastHeardMs: number }[];
    /** Sync peers no longer counted: `left` (clean shutdown) or `lost` (silent past the peer timeout). */
    syncDeparted: { node: number; epoch: number; reason: 'left' | 'lost'; goneMs: number }[];
  };
  /** The cluster's ruleset as this node knows it (distribution on), or just this node's generation. */
  ruleset: {
    generation: number;
    version: number | null;
    hash: string | null;
    drift: boolean;
    ready: boolean;
    /** Every node heard (this one included): the version and hash it runs. */
    nodes: Pick<NodeVersion, 'name' | 'self' | 'version' | 'hash' | 'role' | 'drift' | 'ageMs'>[];
  };
  sync: null | {
    inSync: boolean;
    nodeId: number;
    lagMs: { samples: number; p50: number | null; p99: number | null };
    resendQueue: number;
    ringDepth: number;
    ringDrops: number;
    drops: Record<string, number>;
  };
}

/** What the ruleset distributor reports, the fields shown here. */
type RulesetVersionsView = Pick<DistStatus, 'version' | 'hash' | 'drift' | 'ready' | 'nodes'>;

export function buildClusterInfo(s: NodeStatus, vrrpPeers: VrrpPeerHeard[], sync: SyncReportView | null, dist?: RulesetVersionsView | null, vips: { interface: string; address: string }[] = []): ClusterInfo {
  const v = s.vrrp;
  let master: ClusterInfo['master'] = null;
  if (v?.state === 'master') master = { address: 'self', priority: v.priority, self: true };
  else if (v?.master) master = { address: v.master.address, priority: v.master.priority, self: false };
  return {
    node: s.node,
    role: s.role,
    priority: v?.priority ?? null,
    configuredPriority: v?.configuredPriority ?? null,
    vrrpState: v?.state ?? null,
    vips: vips.map((x) => ({ interface: x.interface, address: x.address, held: v?.state === 'master' })),
    master,
    ruleset: {
      generation: s.ruleset?.generation ?? 0,
      version: dist?.version ?? null,
      hash: dist?.hash ?? null,
      drift: dist?.drift ?? false,
      ready: dist?.ready ?? true,
      nodes: (dist?.nodes ?? []).map((n) => ({ name: n.name, self: n.self, version: n.version, hash: n.hash, role: n.role, drift: n.drift, ageMs: Math.round(n.ageMs) })),
    },
    peers: {
      vrrp: vrrpPeers,
      sync: sync ? sync.status.peers.map((p) => ({ node: p.node, epoch: p.epoch, inSync: p.inSync, lastHeardMs: Math.round(p.lastHeardMs) })) : [],
      syncDeparted: (sync?.status.departed ?? []).map((d) => ({ node: d.node, epoch: d.epoch, reason: d.reason, goneMs: Math.round(d.goneMs) })),
    },
    sync: sync
      ? {
          inSync: sync.inSync,
          nodeId: sync.status.nodeId,
          lagMs: sync.status.lagMs,
          resendQueue: sync.status.resendQueue,
          ringDepth: sync.ringDepth,
          ringDrops: sync.ringDrops,
          drops: sync.status.drops,
        }
      : null,
  };
}

/** `hafw status`'s cluster lines. */
export function formatClusterInfo(c: ClusterInfo): string {
  const lines: string[] = [];
  const m = c.master ? (c.master.self ? 'this node' : `${c.master.address} (priority ${c.master.priority})`) : 'none heard';
  lines.push(`cluster  vrrp ${c.vrrpState ?? 'off'}  priority ${c.priority ?? '-'}/${c.configuredPriority ?? '-'}  master ${m}`);
  for (const p of c.peers.vrrp) lines.push(`  vrrp peer ${p.address}  priority ${p.priority}  heard ${p.lastHeardMs} ms ago  (${p.adverts} adverts)`);
  const r = c.ruleset;
  if (r.version === null) lines.push(`  ruleset generation ${r.generation}  (distribution off)`);
  else {
    lines.push(`  ruleset version ${r.version}  hash ${r.hash!.slice(0, 12)}  ${r.drift ? 'DRIFT' : 'no drift'}  ${r.ready ? 'current' : 'NOT CURRENT'}`);
    for (const n of r.nodes) if (!n.self) lines.push(`  ruleset on ${n.name}: version ${n.version}  hash ${n.hash.slice(0, 12)}  ${n.role}${n.drift ? '  DRIFT' : ''}  heard ${n.ageMs} ms ago`);
  }
  if (c.sync) {
    const lag = c.sync.lagMs.samples > 0 ? `lag p50 ${c.sync.lagMs.p50} ms p99 ${c.sync.lagMs.p99} ms` : 'lag: no samples';
    lines.push(`  sync node ${c.sync.nodeId}  ${c.sync.inSync ? 'in sync' : 'NOT IN SYNC'}  ${lag}  resend queue ${c.sync.resendQueue}  ring ${c.sync.ringDepth} (dropped ${c.sync.ringDrops})`);
    for (const p of c.peers.sync) lines.push(`  sync peer node ${p.node}  ${p.inSync ? 'in sync' : 'syncing'}  heard ${p.lastHeardMs} ms ago`);
    for (const d of c.peers.syncDeparted) lines.push(`  sync peer node ${d.node}  GONE: ${d.reason === 'left' ? 'left (clean shutdown)' : 'lost (silent)'} ${(d.goneMs / 1000).toFixed(1)} s ago`);
  } else lines.push('  sync off');
  return lines.join('\n');
}
