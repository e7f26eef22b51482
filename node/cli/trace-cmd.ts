/**
 * `hafw trace`: follows packet traces of the live node like `nft monitor trace`: for each
 * traced packet, the packet, every rule that matched in every chain it went through (with
 * what the rule did), chain ends, policies, the NAT done and the final verdict. Packets are
 * those a rule flags with `meta nftrace set 1`, or those matching --filter.
 */
import type { TracePacketJson, TraceRecord, TraceStepJson } from '../ruleset/index.js';
import { compileTraceFilter, TraceFilterError } from '../ruleset/index.js';
import { parse, UsageError, type Command } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';
import { openEventStream, followUntilStopped } from './event-stream.js';

const PROTO: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/** The packet in nft's words: `iif "lan" oif "wan" ip saddr ... ip daddr ... tcp sport ... tcp dport ... tcp flags syn length 60`. */
export function formatTracePacket(p: TracePacketJson): string {
  const parts: string[] = [];
  if (p.iif !== undefined) parts.push(`iif "${p.iif}"`);
  if (p.oif !== undefined) parts.push(`oif "${p.oif}"`);
  parts.push(`${p.family} saddr ${p.src} ${p.family} daddr ${p.dst}`);
  const l4 = PROTO[p.proto];
  if (l4 !== undefined && p.sport !== undefined) parts.push(`${l4} sport ${p.sport} ${l4} dport ${p.dport}`);
  else if (p.icmpType !== undefined) parts.push(`${p.proto === 58 ? 'icmpv6' : 'icmp'} type ${p.icmpType} code ${p.icmpCode}`);
  else if (l4 === undefined) parts.push(`${p.family === 'ip' ? 'ip protocol' : 'meta l4proto'} ${p.proto}`);
  if (p.tcpFlags !== undefined && p.tcpFlags.length > 0) parts.push(`tcp flags ${p.tcpFlags.join(',')}`);
  parts.push(`length ${p.length}`);
  if (p.mark !== 0) parts.push(`meta mark 0x${p.mark.toString(16).padStart(8, '0')}`);
  return parts.join(' ');
}

function stepLine(s: TraceStepJson): string {
  const where = `${s.hook} ${s.family} ${s.table} ${s.chain}`;
  if (s.type === 'policy') return `${where} policy ${s.verdict}`;
  if (s.type === 'return') return `${where} return (end of chain, back to the caller)`;
  return `${where} rule ${s.rule ?? `handle ${s.handle}`} (verdict ${s.verdict})`;
}

/** A traced packet as lines, each `trace id N ...` like nft monitor trace. */
export function formatTrace(r: TraceRecord): string[] {
  const id = `trace id ${r.id}`;
  const lines = [`${id} packet: ${formatTracePacket(r.packet)} (ct state ${r.ctState}; traced by ${r.by.join(', ')})`];
  for (const s of r.steps) lines.push(`${id} ${stepLine(s)}`);
  if (r.truncated) lines.push(`${id} ... (more steps than a trace keeps)`);
  if (r.after !== undefined) lines.push(`${id} nat: ${formatTracePacket(r.after)}`);
  if (r.ct !== undefined) {
    const t = (x: { src: string; dst: string; sport?: number; dport?: number }): string => `src=${x.src} dst=${x.dst}${x.sport !== undefined ? ` sport=${x.sport} dport=${x.dport}` : ''}`;
    lines.push(`${id} conntrack: ${t(r.ct.original)} ${t(r.ct.reply)}${r.ct.status.length ? ` [${r.ct.status.join(',')}]` : ''}${r.ct.mark ? ` mark=${r.ct.mark}` : ''}`);
  }
  lines.push(`${id} verdict ${r.verdict}`);
  return lines;
}

const usage = `usage: hafw trace [--filter MATCHES] [--json] [--count N] [--socket PATH | --url URL]

Follows packet traces on the running node in this network namespace (like 'nft monitor
trace'): for each traced packet, one line with the packet (interfaces, addresses, ports,
TCP flags, length, mark, conntrack state), then a line per rule that matched in each chain
it went through, with what the rule did (continue, accept, drop, jump NAME, return), the
end of each jumped-to chain, the policy of each base chain, the NAT done, the connection
and the final verdict (accept, drop, reject). Runs until interrupted (Ctrl-C) or --count.

Which packets: without --filter, those a rule of the ruleset flags with
'meta nftrace set 1'; as in the kernel, a packet is traced from the first base chain it
enters after the flag was set, so put that rule in a chain of its own at an earlier
priority (e.g. 'type filter hook prerouting priority -301'). With --filter, the packets
the matches select, from their first hook, whatever the ruleset does. Nothing is recorded
while no trace runs; traces the node cannot deliver fast enough (over 1000 packets/s) are
dropped and counted (hafw_trace_dropped_total).
  --filter MATCHES  matches in the rule language, e.g. 'ip saddr 192.0.2.1 tcp dport 22'
                    or 'iifname "lan" ct state new' (no statements, no verdict); a bad one
                    is refused with its column
  --json            one JSON object per traced packet: id, time, packet, steps (hook,
                    family, table, chain, type rule|return|policy, handle, rule, verdict),
                    verdict, after (the packet after NAT), ctState, ct, by
  --count N         exit after N traced packets
${TARGET_HELP}
exit codes: 0 ok, 1 error, 2 usage`;

export const traceCommand: Command = {
  name: 'trace',
  summary: 'follow packet traces: each chain and rule a packet goes through and its verdict (like nft monitor trace)',
  usage,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, count: { type: 'string' }, filter: { type: 'string' }, ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    const count = values.count === undefined ? Infinity : Number(values.count);
    if (values.count !== undefined && !(Number.isInteger(count) && count >= 1)) throw new UsageError(`--count must be a positive integer\n\n${usage}`);
    const filter = values.filter as string | undefined;
    if (filter !== undefined) {
      // Checked here too, so a typo is answered with its place before any node is asked.
      try {
        compileTraceFilter(filter);
      } catch (err) {
        if (err instanceof TraceFilterError) throw new UsageError(`--filter:${err.col}: ${err.message}\n  ${filter}\n  ${' '.repeat(err.col - 1)}^`);
        throw err;
      }
    }
    let seen = 0;
    const stream = openEventStream(
      (type, data) => {
        if (type !== 'trace') return;
        const r = data as TraceRecord;
        process.stdout.write(values.json ? `${JSON.stringify(r)}\n` : `${formatTrace(r).join('\n')}\n`);
        if (++seen >= count) stream.stop();
      },
      { ...target, path: filter === undefined ? '/v1/trace' : `/v1/trace?filter=${encodeURIComponent(filter)}`, command: 'hafw trace' },
    );
    await followUntilStopped(stream);
    return 0;
  },
};
