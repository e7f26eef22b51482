/**
 * `hafw ruleset check FILE [--json]`: parse, validate and compile a ruleset offline, the
 * same pipeline the node runs before a ruleset goes live, and report counts and time (or
 * every error with its file:line:col). Nothing running is touched.
 */
import { checkRulesetIn } from '../ruleset/check.js';
import { RulesetEngine } from '../ruleset/index.js';
import { clusterSegmentWarnings, effectWarnings } from '../datapath/control/effect-warnings.js';
import { lockoutWarnings } from '../datapath/control/lockout-check.js';
import { parseAddress } from '../packet/address.js';
import { loadConfig } from '../daemon/config.js';
import { parse, UsageError, type Command } from './args.js';
import { RulesetError } from '../ruleset/errors.js';
import { INCLUDE_OPTION, INCLUDE_USAGE, readRulesetInput } from './ruleset-input.js';

const usage = `usage: hafw ruleset check FILE [-I DIR]... [--config NODE.yaml] [--json]

Parses, validates and compiles FILE (nft syntax or libnftables JSON; '-' reads standard
input) exactly as a node would before loading it. Prints the counts and the time taken,
or every error as FILE:LINE:COL: message. Exit code 0 when the ruleset is valid, 1 when
it is not.

A valid ruleset may still say things this datapath cannot make true (input rules about
ICMPv6 or VRRP, which the kernel keeps; oifname in an input chain; log flags all, whose
ether and skuid parts a log line here cannot carry): each is printed as a warning with its place. With --config, also interfaces
that are not in datapath.interfaces, and a lock-out check: a connection from each of
datapath.managementSources to the management listener (api.listen) goes through the
input and output chains as on the node; if the ruleset would drop it, a warning says so.
Warnings do not change the exit code.
  --config FILE  the node's config (datapath.interfaces, managementSources, api.listen)
${INCLUDE_USAGE}
  --json   one object: {"ok","tables","chains","rules","sets","ms","errors":[{"line","col","message"}],"warnings":[...]}
           (an error in an included file has its "file")`;

export const rulesetCheckCommand: Command = {
  name: 'check',
  summary: 'parse, validate and compile a ruleset file offline',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, config: { type: 'string' }, ...INCLUDE_OPTION }, usage);
    if (values.help) return void console.log(usage), 0;
    if (positionals.length !== 1) throw new UsageError(`expected one FILE\n\n${usage}`);
    const config = values.config === undefined ? undefined : await loadConfig(values.config);
    const includePath = values.includepath ?? config?.ruleset.includePath;
    const engine = new RulesetEngine();
    const name = positionals[0] === '-' ? '<stdin>' : positionals[0]!;
    let r: ReturnType<typeof checkRulesetIn>;
    try {
      const input = await readRulesetInput(positionals[0]!, includePath);
      r = checkRulesetIn(engine, input.text, input.name, input.sources);
    } catch (err) {
      // An include that cannot be read is an error of the ruleset, at the include.
      if (!(err instanceof RulesetError)) throw err;
      r = { ok: false, tables: 0, chains: 0, rules: 0, sets: 0, ms: 0, errors: err.errors };
    }
    const ms = Math.round(r.ms * 10) / 10;
    const warnings = r.ok ? warningsOf(engine, config) : [];
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ok: r.ok, tables: r.tables, chains: r.chains, rules: r.rules, sets: r.sets, ms, errors: r.errors, warnings })}\n`);
    } else if (r.ok) {
      console.log(`${name}: ok: ${r.tables} tables, ${r.chains} chains, ${r.rules} rules, ${r.sets} sets (${ms} ms)`);
      for (const w of warnings) console.log(`${name}: warning: ${w}`);
    } else {
      for (const e of r.errors) console.error(`${e.file ?? name}:${e.line}:${e.col}: ${e.message}`);
      console.error(`${name}: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; the ruleset would not load`);
    }
    return r.ok ? 0 : 1;
  },
};

/** What the datapath cannot make true, and (with the node's config) the lock-out check. */
export function warningsOf(engine: RulesetEngine, config: Awaited<ReturnType<typeof loadConfig>> | undefined): string[] {
  const out = effectWarnings(engine.ruleset, config ? { interfaces: config.datapath.interfaces } : {}).map((w) => `${w.where}: ${w.message}`);
  if (config) out.push(...clusterSegmentWarnings(engine.ruleset, { interfaces: config.datapath.interfaces, syncInterface: config.sync?.interface }));
  const listen = config?.api.listen;
  if (config && listen) {
    // Offline the node's addresses are unknown: a specific listener address is checked as
    // if on a protected interface; a wildcard one as one stand-in address per family.
    const hosts = listen.host === '0.0.0.0' || listen.host === '::' ? ['198.51.100.254', '2001:db8:ffff::fd'] : [listen.host];
    const addresses = hosts.map((h) => {
      const a = parseAddress(h);
      return { ifname: '', family: a.family as 4 | 6, bytes: [...a.bytes], vip: false };
    });
    out.push(...lockoutWarnings(engine, { listen: { host: hosts.length === 1 ? listen.host : '0.0.0.0', port: listen.port }, sources: config.datapath.managementSources, addresses, interfaces: config.datapath.interfaces }));
  }
  return out;
}
