/** `hafw ruleset rollback V`: a new cluster version whose content is version V's. */
import { controlRequest, ControlError } from '../api/client.js';
import { parse, printJson, UsageError, type Command } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';

const usage = `usage: hafw ruleset rollback [--json] [--socket PATH | --url URL] VERSION

Makes a NEW cluster version whose ruleset is the text of VERSION (as listed by 'hafw
ruleset history'); every node applies it like any other change. Only the writer (the VRRP
master) accepts it: elsewhere it fails naming the master (exit 1). Exit 1 also for a
version no longer kept.
  --json          print {version, from}
${TARGET_HELP}`;

export const rulesetRollbackCommand: Command = {
  name: 'rollback',
  summary: 'restore an earlier version (as a new version)',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    const v = Number(positionals[0]);
    if (positionals.length !== 1 || !Number.isSafeInteger(v) || v < 0) throw new UsageError(`give one VERSION number\n\n${usage}`);
    try {
      const r = await controlRequest<{ version: number; from: number }>('POST', '/v1/ruleset/rollback', { ...target, body: { version: v } });
      if (values.json) printJson(r);
      else console.log(`ok: version ${r.version} (the ruleset of version ${r.from})`);
      return 0;
    } catch (err) {
      if (err instanceof ControlError && (err.status === 404 || err.status === 409)) {
        console.error(err.message.replace(/^POST \S+: \d+ /, ''));
        return 1;
      }
      throw err;
    }
  },
};
