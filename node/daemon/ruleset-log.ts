/**
 * Ruleset `log` lines into the node log: one pino record per line, at the level the
 * statement asked for, so they reach journald (the unit's stdout) with the node's other
 * records. nft's levels are syslog's; pino has fewer, so emerg, alert and crit are fatal,
 * notice and audit are info (the record keeps nft's own level in `nftLevel`).
 */
import type { Logger } from 'pino';
import type { LogLevel, LogLine } from '../ruleset/index.js';

const PINO_LEVEL: Record<LogLevel, 'fatal' | 'error' | 'warn' | 'info' | 'debug'> = {
  emerg: 'fatal',
  alert: 'fatal',
  crit: 'fatal',
  err: 'error',
  warn: 'warn',
  notice: 'info',
  info: 'info',
  debug: 'debug',
  audit: 'info',
};

/**
 * Writes one line: `msg` is the kernel's text (prefix, then `IN=... OUT=... SRC=...`), the
 * other keys the same facts for a program to read (`fields`: SRC, DST, PROTO, DPT...).
 */
export function writeRulesetLog(log: Logger, l: LogLine): void {
  const level = PINO_LEVEL[l.level] ?? 'warn';
  log[level]({ event: 'ruleset.log', prefix: l.prefix, nftLevel: l.level, fields: l.fields }, l.prefix + l.line);
}
