/** `hafw ruleset history`: the cluster versions this node keeps, oldest first. */
import { controlRequest } from '../api/client.js';
import { parse, printJson, type Command } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';

const usage = `usage: hafw ruleset history [--json] [--socket PATH | --url URL]

Lists the cluster ruleset versions the node in this namespace keeps (ruleset.historySize):
version, when and where it was made, what made it, and its hash. '*' marks the version
running now. 'hafw ruleset diff --from V --to W' compares two of them, 'hafw ruleset
rollback V' brings one back as a new version.
  --json          print {versions: [...], current: {version, hash, drift, nodes}}
${TARGET_HELP}`;

interface Meta {
  version: number;
  hash: string;
  time: number;
  origin: string;
  summary: string;
}

export const rulesetHistoryCommand: Command = {
  name: 'history',
  summary: 'list the cluster ruleset versions kept',
  usage,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    const h = await controlRequest<{ versions: Meta[] }>('GET', '/v1/ruleset/history', target);
    const cur = await controlRequest<{ version: number; hash: string; drift: boolean }>('GET', '/v1/ruleset/version', target);
    if (values.json) return printJson({ versions: h.versions, current: cur }), 0;
    console.log(`  ${'VERSION'.padEnd(8)} ${'TIME (UTC)'.padEnd(20)} ${'ORIGIN'.padEnd(10)} ${'HASH'.padEnd(12)} SUMMARY`);
    for (const v of h.versions) {
      const mark = v.version === cur.version ? (v.hash === cur.hash ? '*' : '!') : ' ';
      console.log(`${mark} ${String(v.version).padEnd(8)} ${new Date(v.time).toISOString().slice(0, 19).replace('T', ' ').padEnd(20)} ${v.origin.padEnd(10)} ${v.hash.slice(0, 12)} ${v.summary}`);
    }
    if (cur.drift) console.log(`! this node is drifted (see 'hafw ruleset show --cluster')`);
    return 0;
  },
};
