import { controlRequest, formatClusterInfo, type ClusterInfo, type NodeStatus } from '../api/index.js';
import { parse, printJson, n, bytes, type Command } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';

const usage = `usage: hafw status [--json] [--socket PATH | --url URL]

Shows the node running in this network namespace: role, uptime, the cluster as this node
sees it (VRRP state and priority, the master, the peers heard over VRRP and state sync,
sync state and lag) and datapath counters.
Run it inside the node's namespace (ip netns exec hafw-fwa hafw status).
  --json          one JSON object (for scripts): the status, with the cluster view under "cluster"
${TARGET_HELP}`;

export function formatStatus(s: NodeStatus): string {
  const c = s.datapath.counters;
  return [
    `node ${s.node}  role ${s.role}  pid ${s.pid}  up ${s.uptimeSeconds}s${s.version ? `  version ${s.version.version}${s.version.commit ? ` (${s.version.commit.slice(0, 12)}${s.version.commit.endsWith('-dirty') ? '-dirty' : ''})` : ''}` : ''}`,
    ...(s.vrrp
      ? [`vrrp ${s.vrrp.state}  priority ${s.vrrp.priority}/${s.vrrp.configuredPriority}  ${s.vrrp.inSync ? 'in sync' : 'NOT IN SYNC'}  master ${s.vrrp.master ? `${s.vrrp.master.address} (priority ${s.vrrp.master.priority})` : 'none heard'}  adverts sent ${n(s.vrrp.counters.advertsSent)} received ${n(s.vrrp.counters.advertsReceived)}`]
      : []),
    // Several groups (active/active): one line each; the line above is the first group's.
    ...((s.vrrp?.groups?.length ?? 0) > 1
      ? s.vrrp!.groups!.map((g) => `  group ${g.name} (vrid ${g.vrid})  ${g.state}  priority ${g.priority}/${g.configuredPriority}  master ${g.master ? `${g.master.address} (priority ${g.master.priority})` : 'none heard'}  vips ${g.vips.join(', ')}`)
      : []),
    // Packets handed to or from a peer over the sync segment (asymmetric paths), once there are any.
    ...(c.handoff_sent > 0 || c.handoff_received > 0 || c.handoff_rejected > 0 || c.handoff_rate_limited > 0
      ? [`  handoff    sent ${n(c.handoff_sent)}  received ${n(c.handoff_received)}  rejected ${n(c.handoff_rejected)}  rate-limited ${n(c.handoff_rate_limited)}  not owner ${n(c.handoff_not_owner)}  send errors ${n(c.handoff_send_errors)}`]
      : []),
    `datapath ${s.datapath.tun}  offloads ${s.datapath.offloads ? 'on' : 'off'}  (virtio header ${s.datapath.vnetHdrLen} B)`,
    `  received   ${n(c.rx_packets)} packets  ${bytes(c.rx_bytes)}  (${n(c.rx_segments)} wire segments)`,
    `  forwarded  ${n(c.tx_packets)} packets  ${bytes(c.tx_bytes)}`,
    `  verdicts   accept ${n(c.verdict_accept)}  drop ${n(c.verdict_drop)}  reject ${n(c.verdict_reject)}  malformed ${n(c.malformed)}  unsupported ${n(c.unsupported)}`,
    `  super-packets ${n(c.gso_packets)} (${bytes(c.gso_bytes)})  largest packet ${n(c.max_packet_bytes)} B  batches ${n(c.batches)}`,
    // Only once fragments were seen: most networks never show this line.
    ...(c.frag_queued > 0 || c.frag_malformed > 0 || c.frag_over_limit > 0
      ? [`  fragments  ${n(c.frag_queued)} held  ${n(c.frag_reassembled)} datagrams  ${n(c.frag_forwarded)} sent on  ${n(c.frag_discarded)} discarded  (timeouts ${n(c.frag_timeouts)}  overlaps ${n(c.frag_overlaps)}  over limit ${n(c.frag_over_limit)}  malformed ${n(c.frag_malformed)}  now ${bytes(c.frag_held_bytes)})`]
      : []),
  ].join('\n');
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'role, uptime and packet counters of the node in this namespace',
  usage,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    const s = await controlRequest<NodeStatus>('GET', '/v1/status', target);
    // A node of an older version has no /v1/cluster: show what there is.
    const c = await controlRequest<ClusterInfo>('GET', '/v1/cluster', target).catch(() => undefined);
    if (values.json) printJson(c ? { ...s, cluster: c } : s);
    else console.log(c ? `${formatStatus(s)}\n${formatClusterInfo(c)}` : formatStatus(s));
    return 0;
  },
};
