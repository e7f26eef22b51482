/**
 * What the test concludes from the two nodes' `hafw status --json`: is the pair ready (both
 * answer, exactly one VRRP master), which one forwards, and did a counter move. Pure, so the
 * rules are unit-tested without Docker.
 */
import type { NodeStatus } from '../../node/api/index.js';

export interface NodeView {
  /** Compose service name (fw-a, fw-b). */
  service: string;
  /** undefined: the node did not answer (not started, restarting, stopped). */
  status?: NodeStatus;
  /** Why it did not answer, for the report. */
  error?: string;
}

interface PairVerdict {
  ready: boolean;
  /** Services whose node says it is VRRP master (or standalone, when VRRP is off). */
  masters: string[];
  backups: string[];
  /** One line an operator can act on. */
  reason: string;
}

/** The role a node reports, reduced to what the pair check needs. */
export function roleOf(s: NodeStatus): 'master' | 'backup' | 'standalone' | 'other' {
  const r = s.vrrp?.state ?? s.role;
  if (r === 'master' || r === 'backup' || r === 'standalone') return r;
  return 'other';
}

/**
 * Ready means: every expected node answers, and either exactly one is VRRP master and the
 * others are backups, or (no VRRP configured) every node is standalone and `forwarder`
 * holds the VIPs statically.
 */
export function judgePair(nodes: NodeView[]): PairVerdict {
  const silent = nodes.filter((n) => !n.status);
  if (silent.length > 0) {
    return { ready: false, masters: [], backups: [], reason: `no answer from ${silent.map((n) => `${n.service}${n.error ? ` (${n.error})` : ''}`).join(', ')}` };
  }
  const masters = nodes.filter((n) => roleOf(n.status!) === 'master').map((n) => n.service);
  const backups = nodes.filter((n) => roleOf(n.status!) === 'backup').map((n) => n.service);
  const standalone = nodes.filter((n) => roleOf(n.status!) === 'standalone').map((n) => n.service);
  if (standalone.length === nodes.length) {
    return { ready: true, masters: [], backups: [], reason: 'all nodes standalone (no vrrp section): VIPs are static' };
  }
  if (masters.length === 1 && backups.length === nodes.length - 1) {
    return { ready: true, masters, backups, reason: `${masters[0]} is master` };
  }
  const roles = nodes.map((n) => `${n.service}=${n.status!.vrrp?.state ?? n.status!.role}`).join(' ');
  if (masters.length > 1) return { ready: false, masters, backups, reason: `more than one master (split brain: do the nodes hear each other's adverts?): ${roles}` };
  return { ready: false, masters, backups, reason: `no single master yet: ${roles}` };
}

/** A datapath counter of a status, 0 when absent. */
function counter(s: NodeStatus | undefined, name: string): number {
  const v = s?.datapath.counters[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** How much a counter grew between two statuses of the SAME node run (a restart resets it). */
export function counterGrowth(before: NodeStatus | undefined, after: NodeStatus | undefined, name: string): number {
  if (!before || !after) return 0;
  if (before.pid !== after.pid || after.uptimeSeconds < before.uptimeSeconds) return counter(after, name);
  return counter(after, name) - counter(before, name);
}
