import type { DrillMode } from '../../failover/index.js';
import { loadLab } from './lab-loader.js';
import { parse, UsageError, type Command } from './args.js';
import type { Target } from '../api/client.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';
import { controlRequest } from '../api/index.js';
import type { DrillReport } from '../ha/api-drill.js';

/** `hafw drill --node`: start the drill over the API and follow its report until it ends. */
async function nodeDrill(holdSeconds: number, json: boolean, target: Target, group?: string | number): Promise<number> {
  let r = await controlRequest<DrillReport>('POST', '/v1/drills', { ...target, body: { mode: 'resign', holdSeconds, ...(group !== undefined ? { group } : {}) } });
  const deadline = Date.now() + holdSeconds * 1000 + 30000;
  let phase = '';
  for (;;) {
    if (!json && r.phase !== phase) console.log(`drill ${r.id}: ${(phase = r.phase)}`);
    if (r.status !== 'running') break;
    if (Date.now() > deadline) throw new Error(`drill ${r.id} did not finish in time (last phase ${r.phase})`);
    await new Promise((res) => setTimeout(res, 100));
    r = await controlRequest<DrillReport>('GET', `/v1/drills/${r.id}`, target);
  }
  if (json) console.log(JSON.stringify(r));
  else {
    console.log(r.takeover ? `takeover: ${r.takeover.peer} (priority ${r.takeover.priority}) after ${r.takeover.ms} ms` : 'takeover: no peer took over');
    console.log(`peer in sync: ${r.peerInSync === null ? 'n/a (no sync)' : r.peerInSync ? 'yes' : 'NO'}`);
    console.log(`taken back: ${r.reclaimMs !== null ? `after ${r.reclaimMs} ms` : r.preempt ? 'no' : 'no (preemption off)'}; now ${r.finalState}`);
    for (const g of r.groups ?? []) {
      const flows = g.flows ? `; flows ${g.flows.survived}/${g.flows.watched} survived` : '';
      console.log(`group ${g.name} (vrid ${g.vrid})${g.drilled ? ' drilled' : ''}: ${g.moved && g.takeover ? `moved to ${g.takeover.peer} after ${g.takeover.ms} ms` : 'did not move'} (${g.before} -> ${g.after ?? '?'})${flows}`);
    }
    if (r.error) console.log(`error: ${r.error}`);
  }
  return r.status === 'done' && r.takeover ? 0 : 1;
}

const usage = `usage: hafw drill [--mode kill|resign|link] [--flows N] [--duration-ms MS] [--json]
       hafw drill --mode kill|kill-next|partition [--fw NAME] [--nodes 2|3] [--flows N] [--json]
       hafw drill --node [--hold SECONDS] [--group NAME|VRID] [--json] [--socket PATH | --url URL]

--node: a drill on the running node in this namespace (or the one --url names), through its API (POST /v1/drills):
the master resigns (priority-0 advertisement, as on SIGTERM, but keeps running), reports
when the peer's master advertisements arrive and whether state sync with it was complete,
waits --hold seconds (default 5), then takes mastership back if it preempts. Run it on the
master; on a backup it exits 1 with the node's answer. Exit 0 when the peer took over.
  --group NAME|VRID  active/active (vrrp.groups): drill that group only; it resigns and
                  moves to its backup while the node keeps its other groups; the report
                  says per group whether it moved. Without it the whole node resigns.

Runs a failover drill against the lab (docs/failover.md, "Drills"): opens N long-lived
TCP flows and a probe stream every 2 ms from hafw-client to hafw-server through the VIPs,
makes the VRRP master fail, and reports the takeover time (longest probe gap), the flows
that survived and the TCP stall per flow. Uses the running lab (hafw lab up --nodes 2),
or builds one for the drill and removes it afterwards.
  --mode kill     SIGKILL the master's node process (default)
  --mode resign   stop it gracefully (it advertises priority 0)
  --mode link     take the master's LAN link down
  --flows N       long-lived TCP flows (default 50)
  --duration-ms   how long the flows run (default 4000; the failure comes after 1 s)
  --json          the report as one JSON object

Across the lab's nodes (docs/failover.md, "Drills across N nodes"): IPv4 and IPv6 flows and
probes, the report per VRRP group (each step's outage and master before and after, the flows
that survived, their stall) and two checks at the end: one master, and ownership converged
(the master owns every flow, every other live node holds a replica of each).
  --fw NAME       the lab node to fail (kill, partition); default the master
  --mode kill-next  SIGKILL the master, then the node that took over
  --mode partition  cut one node (default the master) off the lan and sync segments for
                  3 s, then heal; in a three-node lab a partition into 2 + 1
  --nodes 2|3     the lab to build when none runs (default 3 for these drills)
  --flows N       long-lived TCP flows per address family (default 10 here)
with --node:
${TARGET_HELP}
Exit code 0 when the drill met its targets (takeover < 100 ms, every flow survived,
stall p50 <= 400 ms), 1 otherwise.`;

export const drillCommand: Command = {
  name: 'drill',
  summary: 'fail the master on purpose and measure the takeover (lab)',
  usage,
  async run(args) {
    const { values } = parse(args, { mode: { type: 'string' }, flows: { type: 'string' }, 'duration-ms': { type: 'string' }, json: { type: 'boolean' }, node: { type: 'boolean' }, hold: { type: 'string' }, group: { type: 'string' }, fw: { type: 'string' }, nodes: { type: 'string' }, ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    if (values.node && (values.fw !== undefined || values.nodes !== undefined)) throw new UsageError(`--fw and --nodes are lab drills; --node drills the running node\n\n${usage}`);
    if (values.node) {
      const hold = Number(values.hold ?? '5');
      if (!(hold >= 0 && hold <= 600)) throw new UsageError(`--hold must be from 0 to 600 seconds\n\n${usage}`);
      const group = values.group;
      if (group !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(group)) throw new UsageError(`--group must be a VRRP group's name or VRID, got ${JSON.stringify(group)}\n\n${usage}`);
      return nodeDrill(hold, values.json ?? false, await targetFrom(values, usage), group === undefined ? undefined : /^\d+$/.test(group) ? Number(group) : group);
    }
    if (values.group !== undefined) throw new UsageError(`--group goes with --node (a resign drill on the running node); kill drills fail the whole node\n\n${usage}`);
    if (values.hold !== undefined || values.socket !== undefined || values.url !== undefined || values['token-file'] !== undefined || values['ca-file'] !== undefined || values['cert-file'] !== undefined || values['key-file'] !== undefined) throw new UsageError(`--hold, --socket, --url, --token-file, --ca-file, --cert-file and --key-file go with --node\n\n${usage}`);
    const mode = values.mode ?? 'kill';
    if (!['kill', 'resign', 'link', 'kill-next', 'partition'].includes(mode)) throw new UsageError(`--mode must be kill, resign, link, kill-next or partition, got ${values.mode}\n\n${usage}`);
    const across = mode === 'kill-next' || mode === 'partition' || values.fw !== undefined || values.nodes !== undefined;
    if (across) {
      if (mode === 'resign' || mode === 'link') throw new UsageError(`--fw and --nodes go with --mode kill, kill-next or partition\n\n${usage}`);
      if (mode === 'kill-next' && values.fw !== undefined) throw new UsageError(`--mode kill-next kills the master and then the next master: it takes no --fw\n\n${usage}`);
      if (values.fw !== undefined && !/^fw[a-c]$/.test(values.fw)) throw new UsageError(`--fw must name a lab node (fwa, fwb or fwc), got ${values.fw}\n\n${usage}`);
      if (values.nodes !== undefined && values.nodes !== '2' && values.nodes !== '3') throw new UsageError(`--nodes must be 2 or 3, got ${values.nodes}\n\n${usage}`);
      if (mode === 'kill-next' && values.nodes === '2') throw new UsageError(`--mode kill-next needs three nodes\n\n${usage}`);
      if (values['duration-ms'] !== undefined) throw new UsageError(`--duration-ms goes with the pair drill; a drill across nodes runs as long as its steps take\n\n${usage}`);
    }
    const flows = Number(values.flows ?? (across ? '10' : '50'));
    if (!Number.isInteger(flows) || flows < 1 || flows > 1000) throw new UsageError(`--flows must be an integer from 1 to 1000\n\n${usage}`);
    const durationMs = Number(values['duration-ms'] ?? '4000');
    if (!(durationMs >= 2000 && durationMs <= 600000)) throw new UsageError(`--duration-ms must be from 2000 to 600000\n\n${usage}`);
    const scenario = across ? { name: mode as 'kill' | 'kill-next' | 'partition', node: values.fw, nodes: values.nodes === undefined ? undefined : (Number(values.nodes) as 2 | 3) } : undefined;
    return (await loadLab('drill', undefined, '; on a running node: hafw drill --node')).drill({ mode: (across ? 'kill' : mode) as DrillMode, flows, durationMs, json: values.json ?? false, scenario });
  },
};
