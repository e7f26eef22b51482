/**
 * `hafw monitor`: prints the node's events as they happen: every committed ruleset change
 * in nft syntax like `nft monitor` (each transaction ending with `# new generation N`),
 * VRRP transitions, sync alarms, drill progress and ruleset distribution, one line each.
 */
import { builtinRegistry } from '../ruleset/modules/index.js';
import { formatEvent } from '../ruleset/monitor.js';
import type { ChangeEvent } from '../ruleset/engine.js';
import { parse, UsageError, type Command } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';
import { openEventStream, followUntilStopped } from './event-stream.js';
import { parseTypes } from '../api/event-bus.js';

/** One line for a non-ruleset event: its type, then the fields that matter. */
export function formatBusEvent(type: string, data: unknown): string {
  const d = (data ?? {}) as Record<string, unknown>;
  const time = new Date().toISOString().slice(11, 23);
  if (type === 'vrrp' && d.event === 'state') return `${time} vrrp ${d.from} -> ${d.to} (${d.reason}, priority ${d.priority}${d.inSync === false ? ', NOT in sync' : ''})`;
  if (type === 'vrrp' && d.event === 'alarm') return `${time} vrrp alarm ${d.code} ${d.link} ${d.active ? 'raised' : 'cleared'}`;
  if (type === 'sync' && d.event === 'inSync') return `${time} sync ${d.inSync ? 'in sync' : 'NOT in sync'}`;
  if (type === 'sync') return `${time} sync ${d.event} ${d.name} +${d.increase} (total ${d.total})`;
  if (type === 'drill') {
    const { id, phase, ...rest } = d;
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join(' ');
    return `${time} drill ${id} ${phase}${extra ? ` ${extra}` : ''}`;
  }
  return `${time} ${type} ${JSON.stringify(data)}`;
}

const usage = `usage: hafw monitor [--types T,...] [--json] [--count N] [--socket PATH | --url URL]

Follows the events of the node in this network namespace: each committed ruleset
transaction as nft commands (like 'nft monitor'), ending with '# new generation N'; VRRP
state changes and alarms; sync alarms (inSync changes, resyncs, gaps, dropped messages);
drill progress; cluster ruleset distribution. Runs until interrupted (Ctrl-C) or the node
stops.
  --types T,...   only these event types: ruleset, vrrp, sync, drill, ruleset-dist
  --json          one JSON object per event: {"type", "data"}; for ruleset events with
                  --types ruleset alone, the transaction itself {"generation", "changes"}
  --count N       exit after N events
${TARGET_HELP}`;

export const monitorCommand: Command = {
  name: 'monitor',
  summary: 'print node events: ruleset changes (like nft monitor), VRRP, sync alarms, drills',
  usage,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, count: { type: 'string' }, ...TARGET_OPTIONS, types: { type: 'string' } }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    const count = values.count === undefined ? Infinity : Number(values.count);
    if (values.count !== undefined && !(Number.isInteger(count) && count >= 1)) throw new UsageError(`--count must be a positive integer\n\n${usage}`);
    const registry = builtinRegistry();
    let seen = 0;
    const types = parseTypes(values.types);
    const rulesetOnly = types !== undefined && types.length === 1 && types[0] === 'ruleset';
    const stream = openEventStream(
      (type, data) => {
        if (types && !types.includes(type)) return;
        if (type === 'ruleset') {
          const ev = data as ChangeEvent;
          process.stdout.write(values.json ? `${JSON.stringify(rulesetOnly ? ev : { type, data })}\n` : `${formatEvent(ev, registry)}\n`);
        } else process.stdout.write(values.json ? `${JSON.stringify({ type, data })}\n` : `${formatBusEvent(type, data)}\n`);
        if (++seen >= count) stream.stop();
      },
      { ...target, path: types ? `/v1/events?types=${encodeURIComponent(types.join(','))}` : '/v1/events' },
    );
    await followUntilStopped(stream, 'started');
    return 0;
  },
};
