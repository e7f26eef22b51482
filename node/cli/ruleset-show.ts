/** `hafw ruleset show`: the running ruleset of the node in this namespace (`nft list ruleset`). */
import { controlRequest } from '../api/client.js';
import { parse, printJson, type Command } from './args.js';
import type { DistStatus } from '../../ruleset-dist/index.js';

const usage = `usage: hafw ruleset show [--json] [--handles] [--cluster] [--socket PATH]

Prints the ruleset the node in this network namespace is running, in nft syntax (like
'nft list ruleset'), with counters. The generation is in 'hafw status --json'.
  --handles       show each rule's '# handle N' (what replace/delete need)
  --cluster       instead: the cluster version and hash this node runs, whether it drifted,
                  and the version every peer announces (exit 1 when this node is drifted)
  --json          libnftables JSON, like 'nft -j list ruleset'
  --socket PATH   control socket (default: the one of this network namespace)`;

export const rulesetShowCommand: Command = {
  name: 'show',
  summary: "print the node's running ruleset",
  usage,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, handles: { type: 'boolean' }, cluster: { type: 'boolean' }, socket: { type: 'string' } }, usage);
    if (values.help) return void console.log(usage), 0;
    if (values.cluster) return showCluster(values.socket, values.json === true);
    if (values.json) printJson(await controlRequest<unknown>('GET', '/v1/ruleset?format=json', { socket: values.socket }));
    else process.stdout.write(await controlRequest<string>('GET', `/v1/ruleset?format=nft${values.handles ? '&handles=1' : ''}`, { socket: values.socket }));
    return 0;
  },
};

/** GET /v1/ruleset/version answers the distributor's status as it is. */
type VersionStatus = DistStatus;

async function showCluster(socket: string | undefined, json: boolean): Promise<number> {
  const s = await controlRequest<VersionStatus>('GET', '/v1/ruleset/version', { socket });
  if (json) printJson(s);
  else {
    console.log(`version ${s.version}  hash ${s.hash.slice(0, 12)}  ${s.ready ? 'ready' : 'NOT READY'}  ${s.drift ? `DRIFT: ${s.driftReason ?? ''}` : 'no drift'}`);
    console.log(`writer  ${s.writable ? 'this node' : (s.master ?? 'unknown (no master heard)')}`);
    console.log(`  ${'NODE'.padEnd(12)} ${'ROLE'.padEnd(11)} ${'VERSION'.padEnd(8)} ${'HASH'.padEnd(12)} STATE`);
    for (const n of s.nodes) {
      const state = [n.drift ? 'drift' : '', n.ready ? '' : 'not ready', n.self ? '' : `heard ${(n.ageMs / 1000).toFixed(1)} s ago`].filter(Boolean).join(', ');
      console.log(`${n.self ? '*' : ' '} ${n.name.padEnd(12)} ${n.role.padEnd(11)} ${String(n.version).padEnd(8)} ${n.hash.slice(0, 12)} ${state}`);
    }
  }
  return s.drift ? 1 : 0;
}
