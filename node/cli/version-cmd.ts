import { buildInfo, versionLine } from '../build-info.js';
import { parse, printJson, type Command } from './args.js';

const usage = `usage: hafw version [--json]
       hafw --version

Prints the version of this hafw installation, the git commit it was built from (recorded
at build time; "unknown" for a tree compiled without npm run build) and the Node.js
version running it. A running node reports the same under "version" in hafw status,
GET /v1/version and the hafw_build_info metric.
  --json   {"version", "commit", "node"} (commit null when unknown)`;

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the version, build commit and Node.js version',
  usage,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' } }, usage);
    if (values.help) return void console.log(usage), 0;
    if (values.json) printJson(buildInfo());
    else console.log(versionLine());
    return 0;
  },
};
