/**
 * `hafw import keepalived FILE` / `hafw import conntrackd FILE`: writes a node config from
 * the files of the pair hafw replaces, lists what could not be mapped (file:line and why),
 * and checks the written settings the way `hafw node --check` does.
 */
import { open, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { checkConfigText } from '../daemon/config.js';
import { BracesError, importConfig, type Finding } from '../migrate/index.js';
import { parse, printJson, UsageError, type Command } from './args.js';
import { fileError } from './file-errors.js';
import { didYouMean } from './suggest.js';

const DEFAULT_KEY_FILE = '/etc/hafw/sync.key';

const OPTIONS_HELP = `  --keepalived FILE   (with conntrackd) also read keepalived.conf: one config from both
  --conntrackd FILE   (with keepalived) also read conntrackd.conf: one config from both
  --name NAME         node.name (default: keepalived's router_id, else this host's name)
  --key-file PATH     sync.keyFile of the written config (default ${DEFAULT_KEY_FILE}); create it
                      with (umask 077; openssl rand -hex 32 > PATH), the same on every node
  --ruleset FILE      ruleset.file of the written config (check it first: hafw ruleset check FILE)
                      (both paths are written absolute: the node reads them from the config's place)
  -o, --output FILE   write the config to FILE (not over an existing file, unless --force)
                      instead of standard output
  --force             with --output: replace FILE if it exists
  --json              print {ok, config, unmapped, notes, errors} instead of the YAML`;

const EXIT_HELP = `What could not be mapped is listed on standard error (and at the top of the config) as
FILE:LINE: setting: why. exit codes: 0 written, and its settings pass the node's own config
check (the files it names are checked by hafw node's check); 1 a file cannot be read or
parsed (FILE:LINE:COL), or the written config does not pass yet (it is still written,
with the errors listed); 2 usage`;

const usage = `usage: hafw import keepalived FILE [options] | conntrackd FILE [options]

Writes a hafw node config (YAML, docs/configuration.md) from the configuration of the
keepalived + conntrackd pair it replaces (docs/migrating.md).
subcommands:
  keepalived  the vrrp: section from keepalived.conf (and datapath.interfaces: the VIPs' interfaces)
  conntrackd  the sync: section from conntrackd.conf
options:
${OPTIONS_HELP}
${EXIT_HELP}`;

const SUB_HELP: Record<string, string> = {
  keepalived: `usage: hafw import keepalived FILE [--conntrackd FILE] [--name NAME] [--ruleset FILE] [-o FILE [--force]] [--json]

Reads keepalived.conf and writes the node config's vrrp: section: the first vrrp_instance's
interface, virtual_router_id, priority, advert_int, nopreempt, preempt_delay,
unicast_peer, track_interface and notify; the virtual_ipaddress (IPv4 and IPv6, with
their dev) of every instance, all in one VIP group (hafw runs one VRRPv3 router per node);
global_defs' router_id as node.name. authentication (VRRPv3 has none), track scripts,
notify_master and friends, LVS and other statements are listed with why.
options:
${OPTIONS_HELP}
${EXIT_HELP}`,
  conntrackd: `usage: hafw import conntrackd FILE [--keepalived FILE] [--key-file PATH] [--name NAME] [-o FILE [--force]] [--json]

Reads conntrackd.conf and writes the node config's sync: section: the Multicast link's
Interface, IPv4_interface (address), IPv4_address (group) and Group (port), or the UDP
link's Interface, IPv4_address, IPv4_Destination_Address (peers) and Port, and FTFW's
ResendQueueSize. A key file is named (conntrackd has no authentication, hafw requires a
cluster key). Filter, cache, Options and process settings are listed with why.
options:
${OPTIONS_HELP}
${EXIT_HELP}`,
};

const options = {
  keepalived: { type: 'string' },
  conntrackd: { type: 'string' },
  name: { type: 'string' },
  'key-file': { type: 'string' },
  ruleset: { type: 'string' },
  output: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

async function readSource(file: string): Promise<{ file: string; text: string }> {
  try {
    return { file, text: await readFile(file, 'utf8') };
  } catch (err) {
    throw fileError(file, err);
  }
}

/** This host's name as a node name (letters, digits, _ . -). */
function hostName(): string {
  const h = hostname().split('.')[0]!.replace(/[^A-Za-z0-9_.-]/g, '-');
  return h === '' ? 'fw' : h;
}

const line = (f: Finding): string => `${f.file}:${f.line}: ${f.setting}: ${f.reason}`;

export const importCommand: Command = {
  name: 'import',
  summary: 'write a node config from keepalived.conf or conntrackd.conf',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, options, usage);
    const sub = positionals[0];
    if (values.help) return void console.log(sub && SUB_HELP[sub] ? SUB_HELP[sub] : usage), 0;
    if (sub !== 'keepalived' && sub !== 'conntrackd') {
      throw new UsageError(`${sub ? `unknown import source '${sub}'${didYouMean(sub, Object.keys(SUB_HELP))}` : 'say what to import: keepalived or conntrackd'}\n\n${usage}`);
    }
    const file = positionals[1];
    if (file === undefined || positionals.length > 2) throw new UsageError(`hafw import ${sub} reads one FILE\n\n${SUB_HELP[sub]}`);
    if (values[sub] !== undefined) throw new UsageError(`--${sub} names the file the subcommand already reads\n\n${SUB_HELP[sub]}`);
    if (values.force && values.output === undefined) throw new UsageError(`--force goes with --output\n\n${usage}`);
    if (values.name !== undefined && !/^[A-Za-z0-9_.-]{1,63}$/.test(values.name)) throw new UsageError(`--name '${values.name}': letters, digits, _ . - (at most 63)\n\n${usage}`);
    const keepalivedFile = sub === 'keepalived' ? file : values.keepalived;
    const conntrackdFile = sub === 'conntrackd' ? file : values.conntrackd;
    let result;
    try {
      result = importConfig({
        keepalived: keepalivedFile !== undefined ? await readSource(keepalivedFile) : undefined,
        conntrackd: conntrackdFile !== undefined ? await readSource(conntrackdFile) : undefined,
        name: values.name,
        fallbackName: hostName(),
        // Absolute: the node reads them relative to the config file, not to where this ran.
        keyFile: path.resolve(values['key-file'] ?? DEFAULT_KEY_FILE),
        rulesetFile: values.ruleset === undefined ? undefined : path.resolve(values.ruleset),
      });
    } catch (err) {
      if (!(err instanceof BracesError)) throw err;
      if (values.json) printJson({ ok: false, error: err.message, file: err.file, line: err.line, col: err.col });
      console.error(`hafw import: ${err.message}`);
      return 1;
    }
    const { draft, yaml } = result;
    // The settings as the node reads them (files it names are checked by hafw node --check).
    const check = checkConfigText(yaml, values.output ?? '<output>');
    const errors = check.errors.map((e) => ({ line: e.line, path: e.path, message: e.problem }));
    if (values.output !== undefined) {
      let fh;
      try {
        fh = await open(values.output, values.force ? 'w' : 'wx', 0o644);
        await fh.writeFile(yaml);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${values.output}: exists already (--force replaces it)`);
        throw fileError(values.output, err);
      } finally {
        await fh?.close();
      }
    }
    if (values.json) printJson({ ok: errors.length === 0, config: yaml, unmapped: draft.unmapped, notes: draft.notes, errors });
    else {
      if (values.output === undefined) process.stdout.write(yaml);
      for (const f of draft.unmapped) console.error(`not mapped: ${line(f)}`);
      for (const e of errors) console.error(`hafw import: the written config does not pass yet: ${e.path ? `${e.path}: ` : ''}${e.message}`);
      if (values.output !== undefined) console.error(`hafw import: wrote ${values.output} (${draft.unmapped.length} statement(s) not mapped); check it with: hafw node --config ${values.output} --check`);
    }
    return errors.length === 0 ? 0 : 1;
  },
};
