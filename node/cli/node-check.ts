/**
 * `hafw node --config FILE --check`: everything the node would refuse at start, found
 * offline and all at once (like `keepalived -t` and `nft -c`): every bad setting of the
 * config with its line and path, every error of the ruleset it names with file:line:col,
 * and the secret files it names (readable, mode, length). It opens no TUN device, adds no
 * route and binds no socket, so it runs as any user, beside a running node.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { checkConfigText, type NodeConfig } from '../daemon/config.js';
import type { ConfigError } from '../daemon/config-reader.js';
import { CERT_EXPIRY_WARN_DAYS, daysLeft, readApiToken, readClientCa, readSyncKey, readTlsPair, SecretError, type SecretLog } from '../daemon/secrets.js';
import { DEFAULT_LIMITS } from '../ruleset/limits.js';
import { checkRulesetIn } from '../ruleset/check.js';
import { RulesetEngine } from '../ruleset/index.js';
import { warningsOf } from './ruleset-check.js';
import { fileProblem } from './file-errors.js';

/** One finding: the file it is in, its place there, the setting it concerns. */
export interface CheckProblem {
  file: string;
  line?: number;
  col?: number;
  /** The config setting's path (datapath.batchSize, vrrp.vips[1].address). */
  path?: string;
  message: string;
}

export interface NodeCheckReport {
  ok: boolean;
  config: string;
  node?: string;
  ruleset?: { file: string; tables: number; chains: number; rules: number; sets: number };
  errors: CheckProblem[];
  warnings: CheckProblem[];
}

function fromConfigError(e: ConfigError, file: string): CheckProblem {
  return { file, ...(e.line !== undefined ? { line: e.line } : {}), ...(e.path ? { path: e.path } : {}), message: e.problem };
}

/** `now`: the clock the certificate's expiry is judged by (a test sets it). */
export async function checkNodeConfig(file: string, now = Date.now()): Promise<NodeCheckReport> {
  const report: NodeCheckReport = { ok: false, config: file, errors: [], warnings: [] };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    report.errors.push({ file, message: `cannot read config: ${fileProblem(err)}` });
    return report;
  }
  const c = checkConfigText(text, file);
  report.errors.push(...c.errors.map((e) => fromConfigError(e, file)));
  const config = c.config;
  if (config) {
    report.node = config.node.name || undefined;
    const bad = (prefix: string): boolean => c.errors.some((e) => e.path === prefix || e.path.startsWith(`${prefix}.`) || e.path.startsWith(`${prefix}[`));
    const at = (setting: string): Pick<CheckProblem, 'file' | 'line' | 'path'> => ({ file, line: c.lineOf(setting), path: setting });
    if (config.ruleset.file && !bad('ruleset.file')) await checkRuleset(config, file, bad, at, report);
    await checkSecrets(config, file, bad, at, report, now);
  }
  // The config's findings in file order, then the ruleset's (already in its order).
  const inConfig = (p: CheckProblem): number => (p.file === file ? 0 : 1);
  report.errors.sort((a, b) => inConfig(a) - inConfig(b) || (inConfig(a) === 0 ? (a.line ?? 0) - (b.line ?? 0) : 0));
  report.ok = report.errors.length === 0;
  return report;
}

type At = (setting: string) => Pick<CheckProblem, 'file' | 'line' | 'path'>;

/** The ruleset as the node loads it at start: with the config's caps, then its warnings. */
async function checkRuleset(config: NodeConfig, configFile: string, bad: (p: string) => boolean, at: At, report: NodeCheckReport): Promise<void> {
  // A relative path is relative to the config file, as the node reads it (loadConfig).
  const rf = path.resolve(path.dirname(configFile), config.ruleset.file!);
  let text: string;
  try {
    text = await readFile(rf, 'utf8');
  } catch (err) {
    report.errors.push({ ...at('ruleset.file'), message: `cannot read ${rf}: ${fileProblem(err)}` });
    return;
  }
  // Stand-ins of bad caps would be the lowest allowed: judge the ruleset by the defaults then.
  const limits = ['maxBytes', 'maxElements', 'maxExpandedTokens'].some((k) => bad(`ruleset.${k}`)) ? DEFAULT_LIMITS : config.ruleset.limits;
  const engine = new RulesetEngine({ limits, inputInterfaces: config.datapath.inputDevices === 'per-interface' ? 'exact' : 'inferred' });
  const r = checkRulesetIn(engine, text, rf);
  report.errors.push(...r.errors.map((e) => ({ file: rf, line: e.line, col: e.col, message: e.message })));
  if (r.ok) {
    report.ruleset = { file: rf, tables: r.tables, chains: r.chains, rules: r.rules, sets: r.sets };
    report.warnings.push(...warningsOf(engine, config).map((message) => ({ file: rf, message })));
  }
}

/**
 * The secret files, read and judged as at start. A file this user may not read (the check
 * run as a user other than the node's) is a warning, not an error: it says nothing about
 * the node, which runs as root.
 */
async function checkSecrets(config: NodeConfig, configFile: string, bad: (p: string) => boolean, at: At, report: NodeCheckReport, now: number): Promise<void> {
  const policy = config.security.secretFileMode;
  const one = async (setting: string, secretFile: string | undefined, read: (log: SecretLog) => Promise<unknown>): Promise<void> => {
    if (bad(setting)) return;
    if (secretFile !== undefined) {
      const denied = await access(secretFile, constants.R_OK).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'EACCES');
      if (denied) {
        report.warnings.push({ ...at(setting), message: `${secretFile}: not readable by uid ${process.getuid?.()}; not checked (run the check as the node's user)` });
        return;
      }
    }
    const log: SecretLog = { warn: (_o, msg) => report.warnings.push({ ...at(setting), message: msg.startsWith(`${setting} `) ? msg.slice(setting.length + 1) : msg }) };
    try {
      await read(log);
    } catch (err) {
      if (!(err instanceof SecretError)) throw err;
      // The place already names the setting: "sync.keyFile: /path: ...", not twice.
      report.errors.push({ ...at(setting), message: err.message.startsWith(`${setting} `) ? err.message.slice(setting.length + 1) : err.message });
    }
  };
  const sync = config.sync;
  if (sync && (sync.key !== undefined || sync.keyFile !== undefined)) {
    const setting = sync.key !== undefined ? 'sync.key' : 'sync.keyFile';
    await one(setting, sync.keyFile, (log) => readSyncKey(sync, policy, log, configFile));
  }
  const api = config.api;
  if (api.listen && api.tokenFile) await one('api.tokenFile', api.tokenFile, (log) => readApiToken(api.tokenFile!, policy, log));
  if (api.listen && api.metricsTokenFile) await one('api.metricsTokenFile', api.metricsTokenFile, (log) => readApiToken(api.metricsTokenFile!, policy, log, 'api.metricsTokenFile'));
  if (api.listen && api.viewTokenFile) await one('api.viewTokenFile', api.viewTokenFile, (log) => readApiToken(api.viewTokenFile!, policy, log, 'api.viewTokenFile'));
  if (api.listen && api.tls) {
    const tls = api.tls;
    await one('api.tls.keyFile', tls.keyFile, async (log) => {
      const pair = await readTlsPair({ certFile: tls.certFile, keyFile: tls.keyFile }, policy, log);
      // A certificate the node would serve but clients will soon refuse: said before the day.
      const days = daysLeft(pair.notAfter, now);
      if (days < 0) report.warnings.push({ ...at('api.tls.certFile'), message: `${tls.certFile}: the certificate expired on ${pair.validTo}; clients refuse it: renew it and send the node SIGHUP` });
      else if (days < CERT_EXPIRY_WARN_DAYS) report.warnings.push({ ...at('api.tls.certFile'), message: `${tls.certFile}: the certificate expires in ${Math.floor(days)} days (${pair.validTo}): renew it and send the node SIGHUP` });
    });
    if (tls.clientCaFile !== undefined) await one('api.tls.clientCaFile', undefined, () => readClientCa(tls.clientCaFile!));
  }
}

function place(p: CheckProblem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}${p.col !== undefined ? `:${p.col}` : ''}` : ''}: ${p.path ? `${p.path}: ` : ''}`;
}

/** Text for people: one line per finding, errors on stderr, a summary last. */
export function printNodeCheck(r: NodeCheckReport): void {
  for (const e of r.errors) console.error(`${place(e)}${e.message}`);
  for (const w of r.warnings) console.log(`${place(w)}warning: ${w.message}`);
  if (r.ok) {
    const rs = r.ruleset ? `ruleset ${r.ruleset.file}: ${r.ruleset.tables} tables, ${r.ruleset.chains} chains, ${r.ruleset.rules} rules, ${r.ruleset.sets} sets` : 'no ruleset (every packet accepted)';
    console.log(`${r.config}: ok: node ${r.node}; ${rs}`);
  } else {
    console.error(`${r.config}: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; the node would not start`);
  }
}
