import { parse, printJson, UsageError, type Command } from './args.js';

const usage = `usage: hafw node --config FILE [--check [--json]]

Runs a firewall node in the foreground (one per network namespace). Logs are JSON lines
on stdout. SIGTERM/SIGINT stop it cleanly; SIGHUP reloads what can be reloaded. Under
systemd (Type=notify) it sends READY=1 once VRRP may take the VIPs and pings the
watchdog (deploy/systemd/hafw.service, docs/deploy-hosts.md).
See docs/configuration.md for every setting.
  --config FILE   the node's YAML configuration
  --check         only check FILE, the ruleset it names (ruleset.file) and the secret
                  files it names, and print every error found, each with FILE:LINE and the
                  setting's path (ruleset errors: FILE:LINE:COL); exit 0 when the node
                  would start with them, 1 when not. Opens no device, changes no route,
                  binds no socket: safe as any user, beside a running node
  --json          with --check: one object {"ok","config","node","ruleset","errors":[{"file",
                  "line","col","path","message"}],"warnings":[...]}`;

export const nodeCommand: Command = {
  name: 'node',
  summary: 'run a firewall node (daemon) in the foreground',
  usage,
  async run(args) {
    const { values } = parse(args, { config: { type: 'string', short: 'c' }, check: { type: 'boolean' }, json: { type: 'boolean' } }, usage);
    if (values.help) return void console.log(usage), 0;
    if (!values.config) throw new UsageError(`--config FILE is required\n\n${usage}`);
    if (values.json && !values.check) throw new UsageError(`--json goes with --check\n\n${usage}`);
    if (values.check) {
      // Loaded alone: the check needs none of the daemon (datapath, API server, VRRP).
      const { checkNodeConfig, printNodeCheck } = await import('./node-check.js');
      const r = await checkNodeConfig(values.config);
      if (values.json) printJson(r);
      else printNodeCheck(r);
      return r.ok ? 0 : 1;
    }
    const { runNode } = await import('../daemon/index.js');
    return runNode(values.config);
  },
};
