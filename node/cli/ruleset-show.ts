/** `hafw ruleset show`: the running ruleset of the node in this namespace (`nft list ruleset`). */
import { controlRequest } from '../api/client.js';
import { parse, printJson, UsageError, type Command } from './args.js';
import { objectCommand } from './ruleset-apply.js';
import type { Target } from '../api/client.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';
import type { DistStatus } from '../../ruleset-dist/index.js';

const usage = `usage: hafw ruleset show [--json] [--handles] [--cluster] [--socket PATH | --url URL]
       hafw ruleset show counters|quotas|limits [FAMILY | table [FAMILY] TABLE]
       hafw ruleset show counter|quota|limit [FAMILY] TABLE NAME
       hafw ruleset show meters [FAMILY] | meter [FAMILY] TABLE NAME

Prints the ruleset the node in this network namespace is running, in nft syntax (like
'nft list ruleset'), with counters. The generation is in 'hafw status --json'.
With counters/quotas/limits: the named objects of that kind with their live values, as
'nft list counters ...' prints them (FAMILY defaults to ip, as in nft); to zero them:
'hafw ruleset apply reset counters ...'. With meters: each rule's meter as a set with the
keys packets put in it, as 'nft list meters' prints them (with --json: as 'nft -j list
meters' writes them).
  --handles       show each rule's '# handle N' (what replace/delete need)
  --cluster       instead: the cluster version and hash this node runs, whether it drifted,
                  and the version every peer announces (exit 1 when this node is drifted)
  --json          libnftables JSON, like 'nft -j list ruleset' (or 'nft -j list meters')
${TARGET_HELP}`;

export const rulesetShowCommand: Command = {
  name: 'show',
  summary: "print the node's running ruleset",
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, handles: { type: 'boolean' }, cluster: { type: 'boolean' }, ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    if (positionals.length > 0) {
      const meters = /^meters?$/.test(positionals[0]!);
      if ((values.json && !meters) || values.handles || values.cluster) throw new UsageError(`--handles and --cluster list the whole ruleset, and --json the whole ruleset or meters, not ${positionals[0]}\n\n${usage}`);
      if (!/^(counters?|quotas?|limits?|meters?)$/.test(positionals[0]!)) throw new UsageError(`unexpected '${positionals[0]}': show lists the ruleset, or counters, quotas, limits or meters\n\n${usage}`);
      return objectCommand(`list ${positionals.join(' ')}`, target, values.json === true);
    }
    if (values.cluster) return showCluster(target, values.json === true);
    if (values.json) printJson(await controlRequest<unknown>('GET', '/v1/ruleset?format=json', target));
    else process.stdout.write(await controlRequest<string>('GET', `/v1/ruleset?format=nft${values.handles ? '&handles=1' : ''}`, target));
    return 0;
  },
};

/** GET /v1/ruleset/version answers the distributor's status as it is. */
type VersionStatus = DistStatus;

async function showCluster(target: Target, json: boolean): Promise<number> {
  const s = await controlRequest<VersionStatus>('GET', '/v1/ruleset/version', target);
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
