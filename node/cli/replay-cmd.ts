import { readFile } from 'node:fs/promises';
import { INCLUDE_OPTION, INCLUDE_USAGE, readRulesetInput } from './ruleset-input.js';
import { OfflineReplay, parseReplayRoute, replayCapture, type ReplayRoute } from '../datapath/control/replay.js';
import { parse, UsageError, type Command } from './args.js';
import { fileError } from './file-errors.js';
import { parseAddress } from '../packet/address.js';

const usage = `usage: hafw replay --pcap FILE [--ruleset FILE] [--json] [--loose] [--liberal]
                   [--route PREFIX=IFNAME ...] [--local ADDR ...] [--quiet]

Runs every packet of a capture (pcap or pcapng; raw IP, Ethernet, Linux cooked) through a
fresh filter and connection table offline, the capture's timestamps as the clock, and
prints one line per packet: its index, verdict, conntrack state and a description, and
under it the rule (chain, handle, text) or policy that decided, what NAT made of the
packet and what \`log\` statements printed.
Fragments are put together as on the node: each is \`held\` (ct \`pending\`) until the one
that completes its datagram, whose line carries the datagram's verdict and state.

  --pcap FILE       the capture
  --ruleset FILE    ruleset (nft syntax or JSON); without it every packet is accepted and tracked
${INCLUDE_USAGE}
  --json            one JSON object a line, one per packet: {"i","verdict","ct","ts","packet",...};
                    "translated": the packet as it leaves, when NAT changed it;
                    "decidedBy": the rule (chain, handle, text) or policy that gave the
                    verdict; "log": what log statements printed
  --loose           pick up mid-stream TCP connections (conntrack.tcpLoose); default strict
  --liberal         accept out-of-window TCP segments (conntrack.tcpBeLiberal)
  --route P=IF      packets from/to prefix P come in/leave by interface IF (iifname/oifname
                    in rules), e.g. --route 192.0.2.0/24=lan --route 0.0.0.0/0=wan
  --local ADDR      ADDR is one of the node's own addresses (repeat for each; VIPs too):
                    packets to it go through the input hook, packets from it through
                    output and postrouting, as on the node; each line shows the path
                    ([input], [output], [forward]; "path" in JSON). It is also the
                    address masquerade and redirect use on the interface its --route
                    names (e.g. --local 198.51.100.2 --route 198.51.100.0/24=wan)
  --quiet           no per-packet lines (text mode: only the summary)

Exit status: 0 when the capture was read to its end, 1 on a bad file or ruleset.`;

export const replayCommand: Command = {
  name: 'replay',
  summary: 'run a capture through a fresh filter and conntrack offline',
  usage,
  async run(args) {
    const { values, positionals } = parse(
      args,
      {
        pcap: { type: 'string' },
        ruleset: { type: 'string' },
        ...INCLUDE_OPTION,
        json: { type: 'boolean' },
        loose: { type: 'boolean' },
        liberal: { type: 'boolean' },
        route: { type: 'string', multiple: true },
        local: { type: 'string', multiple: true },
        quiet: { type: 'boolean' },
      },
      usage,
    );
    if (values.help) return void console.log(usage), 0;
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}\n\n${usage}`);
    if (!values.pcap) throw new UsageError(`--pcap FILE is required\n\n${usage}`);
    let routes: ReplayRoute[];
    try {
      routes = (values.route ?? []).map(parseReplayRoute);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const local = values.local ?? [];
    for (const a of local) {
      try {
        parseAddress(a);
      } catch {
        throw new UsageError(`--local ${a}: not an IPv4 or IPv6 address (give one address per --local, without a prefix length)`);
      }
    }
    const pcap = values.pcap;
    const capture = await readFile(pcap).catch((e: unknown) => { throw fileError(pcap, e); });
    // Its includes expanded as for `hafw ruleset check` (-I DIR; default /etc).
    const input = values.ruleset === undefined ? undefined : await readRulesetInput(values.ruleset, values.includepath);
    const rulesetText = input?.text;
    // Ruleset errors carry file:line:col (RulesetError); they end the command with exit 1.
    const routeless = routeWarning(rulesetText, routes.length);
    if (routeless) console.error(routeless);
    const inferred = inputInterfaceWarning(rulesetText, routes.length);
    if (inferred) console.error(inferred);
    const replay = new OfflineReplay({ ruleset: rulesetText, rulesetFile: values.ruleset, rulesetSources: input?.sources, tcpLoose: values.loose, tcpBeLiberal: values.liberal, routes, local });

    const lines: string[] = [];
    const flush = (): void => {
      if (lines.length) process.stdout.write(lines.join('\n') + '\n');
      lines.length = 0;
    };
    const tally = { accept: 0, drop: 0, held: 0, new: 0, established: 0, related: 0, invalid: 0, untracked: 0, pending: 0 };
    try {
      for (const row of replayCapture(capture, {}, replay)) {
        tally[row.verdict]++;
        tally[row.ct]++;
        if (!values.quiet) {
          if (values.json) {
            const o: Record<string, unknown> = { i: row.i, verdict: row.verdict, ct: row.ct, ts: row.tsMs };
            if (row.reject) o.reject = true;
            if (row.skipped) o.skipped = row.skipped;
            if (row.datagram !== undefined) o.datagram = row.datagram;
            if (row.path !== undefined) o.path = row.path;
            o.packet = row.summary;
            if (row.translated !== undefined) o.translated = row.translated;
            if (row.decidedBy !== undefined) o.decidedBy = row.decidedBy;
            if (row.log !== undefined) o.log = row.log;
            lines.push(JSON.stringify(o));
          } else {
            const extra = row.skipped ? `  (${row.skipped})` : row.reject ? '  (reject)' : row.datagram !== undefined ? `  (datagram of ${row.datagram} fragments)` : '';
            const via = row.path !== undefined ? `  [${row.path}]` : '';
            const pad = `\n${' '.repeat(30)}`;
            const nat = row.translated !== undefined ? `${pad}NAT -> ${row.translated}` : '';
            const d = row.decidedBy;
            const by = d === undefined ? '' : d.handle === 0 ? `${pad}by policy ${d.policy} of ${d.chain}` : `${pad}by ${d.chain} handle ${d.handle}: ${d.rule ?? '(rule gone)'}`;
            const log = (row.log ?? []).map((l) => `${pad}log: ${l}`).join('');
            lines.push(`${String(row.i).padStart(6)}  ${row.verdict.padEnd(6)}  ${row.ct.padEnd(11)}  ${row.summary}${extra}${via}${nat}${by}${log}`);
          }
          if (lines.length >= 512) flush();
        }
      }
    } finally {
      flush();
    }
    const c = replay.counts();
    const summary = {
      packets: tally.accept + tally.drop + tally.held,
      ...tally,
      connections: replay.ct.count(),
      malformed: c.malformed,
      unsupported: c.unsupported,
      tableFullDrops: c.ct_table_full_drops,
    };
    // JSON output stays one packet object a line, nothing else, so tools can zip it with the capture.
    if (!values.json) {
      console.log(
        `${summary.packets} packets: ${tally.accept} accepted, ${tally.drop} dropped${tally.held ? `, ${tally.held} fragments held for their datagram` : ''}; ct new ${tally.new}, established ${tally.established}, ` +
          `related ${tally.related}, invalid ${tally.invalid}, untracked ${tally.untracked}; ${summary.connections} connections left in the table`,
      );
    }
    return 0;
  },
};

/**
 * A warning when the ruleset matches interface names and no --route says which packets
 * come in or leave by which interface: every packet's interfaces are then unknown, so
 * those rules never match (and a `!=` always does), which reads as a ruleset bug.
 */
export function routeWarning(rulesetText: string | undefined, routeCount: number): string | undefined {
  if (rulesetText === undefined || routeCount > 0) return undefined;
  const m = /\b(iifname|oifname|iif|oif)\b/.exec(rulesetText);
  if (!m) return undefined;
  return `warning: the ruleset matches interfaces (${m[1]}) but no --route was given: every packet's input and output interfaces are unknown here, so those matches never hold; give --route PREFIX=IFNAME for each network (e.g. --route 192.0.2.0/24=lan --route 0.0.0.0/0=wan)`;
}

/**
 * A warning when --route is given and the ruleset matches the input interface: a capture
 * does not record the interface a packet came in on, so replay infers it from the route
 * back to the source, as a node with datapath.inputDevices: shared does. A node with
 * per-interface input devices (the default) sees the real one: a packet with a spoofed
 * source may match differently there, and `fib saddr . iif oif` always passes here.
 */
export function inputInterfaceWarning(rulesetText: string | undefined, routeCount: number): string | undefined {
  if (rulesetText === undefined || routeCount === 0) return undefined;
  const m = /\b(iifname|iif)\b/.exec(rulesetText);
  if (!m) return undefined;
  const rpf = /\bfib\s+saddr\s*\.\s*iif\b|\bfib\s+iif\s*\.\s*saddr\b/.test(rulesetText);
  return `warning: the ruleset matches the input interface (${rpf ? 'fib saddr . iif' : m[1]}) but a capture does not record it: replay infers it from the route back to the source (--route), so a packet with a spoofed source takes its source's interface${rpf ? ' and fib saddr . iif oif (the reverse-path check) always passes' : ''}; a node with datapath.inputDevices: per-interface sees the real input interface`;
}
