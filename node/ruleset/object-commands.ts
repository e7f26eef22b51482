/**
 * nft 1.0.6's commands on named stateful objects' values, which are not ruleset changes
 * (no generation, no event, nothing for the cluster to distribute):
 *
 *   list counters|quotas|limits [FAMILY | table [FAMILY] TABLE]
 *   list counter|quota|limit [FAMILY] TABLE NAME
 *   reset counters|quotas [FAMILY | table [FAMILY] TABLE]
 *   reset counter|quota [FAMILY] TABLE NAME
 *
 * The output is nft's: each table (of the family / the one named) with its objects of the
 * kind and their current values; `reset` prints the values it found and then sets them to
 * zero (a counter's packets and bytes, a quota's used bytes). The family defaults to ip,
 * as in nft. nft 1.0.6 has no `reset limits`, `reset rules` nor `reset rule`: refused.
 *
 *   list meters [FAMILY]
 *   list meter [FAMILY] TABLE NAME
 *
 * list the rules' meters as nft 1.0.6 does: a set each, with the keys packets put in it
 * (the caller's `meters`, which reads the engine's structures).
 */
import type { Family, ObjKind } from './ast.js';
import { FAMILIES } from './ast.js';
import { RulesetError } from './errors.js';
import { objBodyText, type ObjState } from './objects.js';
import type { Registry } from './registry.js';
import type { RulesetState, TableState } from './state.js';

export interface ObjectCommand {
  verb: 'list' | 'reset';
  kind: ObjKind | 'meter';
  /** Absent: every family. */
  family?: Family;
  table?: string;
  /** One object (the singular form). */
  name?: string;
  /** Line of the command in its text, for errors. */
  line: number;
}

const PLURAL: Record<string, ObjKind> = { counters: 'counter', quotas: 'quota', limits: 'limit' };
const SINGULAR: Record<string, ObjKind> = { counter: 'counter', quota: 'quota', limit: 'limit' };

/** The words that start an object command, for callers that route text (`hafw ruleset apply`). */
export function isObjectCommandLine(line: string): boolean {
  const w = line.trim().split(/\s+/);
  return (w[0] === 'list' || w[0] === 'reset') && (w[1] !== undefined && (w[1] in PLURAL || w[1] in SINGULAR || w[1] === 'rules' || w[1] === 'rule' || w[1] === 'meters' || w[1] === 'meter'));
}

/** Parses the lines of `text` (blank lines and # comments skipped); throws RulesetError with the place. */
export function parseObjectCommands(text: string, file = '<command>'): ObjectCommand[] {
  const out: ObjectCommand[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const fail = (msg: string): never => {
      throw RulesetError.at(file, { line: i + 1, col: 1 }, msg);
    };
    const w = line.split(/\s+/);
    if (w[0] !== 'list' && w[0] !== 'reset') fail(`expected list or reset, got '${w[0]}'`);
    const verb = w[0] as 'list' | 'reset';
    const what = w[1] ?? '';
    if (verb === 'reset' && (what === 'rules' || what === 'rule')) {
      fail(`nft 1.0.6 has no 'reset ${what}' (it came with nft 1.0.7): a rule's counter starts again at zero when the rule is replaced ('replace rule ... handle N ...')`);
    }
    const fam = (s: string | undefined): s is Family => (FAMILIES as readonly string[]).includes(s ?? '');
    if (what === 'meters' || what === 'meter') {
      if (verb === 'reset') fail(`nft 1.0.6 has no 'reset ${what}': a meter's elements go when they time out, or when its rule is replaced`);
      const rest = w.slice(2);
      if (what === 'meters' && rest.length === 0) out.push({ verb, kind: 'meter', line: i + 1 });
      else if (what === 'meters' && rest.length === 1 && fam(rest[0])) out.push({ verb, kind: 'meter', family: rest[0], line: i + 1 });
      else if (what === 'meter' && rest.length === 2) out.push({ verb, kind: 'meter', family: 'ip', table: rest[0], name: rest[1], line: i + 1 });
      else if (what === 'meter' && rest.length === 3 && fam(rest[0])) out.push({ verb, kind: 'meter', family: rest[0], table: rest[1], name: rest[2], line: i + 1 });
      else fail(what === 'meters' ? 'expected list meters [FAMILY]' : 'expected list meter [FAMILY] TABLE NAME');
      continue;
    }
    const plural = PLURAL[what];
    const single = SINGULAR[what];
    if (plural === undefined && single === undefined) fail(`expected counters, quotas, limits, counter, quota or limit after '${verb}', got '${what}'`);
    const kind = (plural ?? single)!;
    if (verb === 'reset' && kind === 'limit') fail("nft has no 'reset limits': a limit's bucket refills by itself");
    const rest = w.slice(2);
    const usage = plural ? `${verb} ${what} [FAMILY | table [FAMILY] TABLE]` : `${verb} ${what} [FAMILY] TABLE NAME`;
    if (plural) {
      if (rest.length === 0) out.push({ verb, kind, line: i + 1 });
      else if (rest.length === 1 && fam(rest[0])) out.push({ verb, kind, family: rest[0], line: i + 1 });
      else if (rest[0] === 'table' && rest.length === 2) out.push({ verb, kind, family: 'ip', table: rest[1], line: i + 1 });
      else if (rest[0] === 'table' && rest.length === 3 && fam(rest[1])) out.push({ verb, kind, family: rest[1], table: rest[2], line: i + 1 });
      else fail(`expected ${usage}`);
    } else if (rest.length === 2) out.push({ verb, kind, family: 'ip', table: rest[0], name: rest[1], line: i + 1 });
    else if (rest.length === 3 && fam(rest[0])) out.push({ verb, kind, family: rest[0], table: rest[1], name: rest[2], line: i + 1 });
    else fail(`expected ${usage}`);
  }
  if (out.length === 0) throw RulesetError.at(file, { line: 1, col: 1 }, 'no command (list|reset counters|quotas|limits ..., list meters)');
  return out;
}

/**
 * Runs the commands on the state's objects; returns what nft prints. Checks every command
 * before resetting anything, so an unknown table or object changes nothing.
 */
export function runObjectCommands(
  state: RulesetState,
  registry: Registry,
  cmds: ObjectCommand[],
  file = '<command>',
  meters: (t: TableState, name?: string) => string[] = () => [],
): string {
  const meterText = new Map<number, string>();
  cmds.forEach((c, i) => {
    if (c.kind === 'meter') meterText.set(i, listMeters(state, c, meters, file));
  });
  const plans = cmds.map((c) => (c.kind === 'meter' ? [] : plan(state, c as ObjectCommand & { kind: ObjKind }, file)));
  let out = '';
  plans.forEach((p, i) => {
    out += meterText.get(i) ?? '';
    for (const { table, objs } of p) {
      // nft's reset lists what it reset; its list shows every table asked for, empty or not.
      if (cmds[i]!.verb === 'reset' && objs.length === 0) continue;
      out += `table ${table} {\n`;
      for (const o of objs) out += `\t${o.kind} ${o.json.name} {\n\t\t${objBodyText(o, registry, true)}\n\t}\n`;
      out += '}\n';
    }
    // After printing: reset shows the values it found, as nft does.
    if (cmds[i]!.verb === 'reset') for (const { objs } of p) for (const o of objs) if (o.cell) o.cell.packets = o.cell.bytes = 0;
  });
  return out;
}

/** `list meters [FAMILY]` (every table, empty ones too, as nft) and `list meter [FAMILY] TABLE NAME`. */
function listMeters(state: RulesetState, c: ObjectCommand, meters: (t: TableState, name?: string) => string[], file: string): string {
  const block = (t: TableState, blocks: string[]): string => `table ${t.json.family} ${t.json.name} {\n${blocks.map((b) => `${b}\n`).join('')}}\n`;
  let out = '';
  for (const [t, blocks] of meterTables(state, c, meters, file)) out += block(t, blocks);
  return out;
}

/** The tables a meters command lists, with what `meters` gives for each (the one asked for: its first). */
function meterTables<T>(state: RulesetState, c: ObjectCommand, meters: (t: TableState, name?: string) => T[], file: string): [TableState, T[]][] {
  if (c.table !== undefined) {
    const t = state.table(c.family!, c.table);
    if (!t) throw RulesetError.at(file, { line: c.line, col: 1 }, `no table ${c.family} ${c.table} (nft: No such file or directory)`);
    const found = meters(t, c.name);
    if (found.length === 0) throw RulesetError.at(file, { line: c.line, col: 1 }, `no meter ${c.name} in table ${c.family} ${c.table} (nft: No such file or directory)`);
    return [[t, found.slice(0, 1)]];
  }
  const out: [TableState, T[]][] = [];
  for (const t of state.tables.values()) if (c.family === undefined || t.json.family === c.family) out.push([t, meters(t)]);
  return out;
}

/**
 * `nft -j list meters [FAMILY]` / `nft -j list meter [FAMILY] TABLE NAME` (1.0.6): the
 * metainfo, then every meter as an object of its own (no table objects, as nft writes
 * them). JSON is for the meters commands only: the others print nft's text (the objects
 * with their values are in the ruleset's JSON).
 */
export function metersJson(
  state: RulesetState, cmds: ObjectCommand[], file: string, meters: (t: TableState, name?: string) => Record<string, unknown>[],
): { nftables: Record<string, unknown>[] } {
  const out: Record<string, unknown>[] = [{ metainfo: { version: 'hafw', json_schema_version: 1 } }];
  for (const c of cmds) {
    if (c.kind !== 'meter') throw RulesetError.at(file, { line: c.line, col: 1 }, `JSON output is for list meters and list meter; '${c.verb} ${c.kind}...' prints nft's text (the named objects with their values are also in the ruleset's JSON)`);
  }
  for (const c of cmds) for (const [, ms] of meterTables(state, c, meters, file)) out.push(...ms);
  return { nftables: out };
}

type Plan = { table: string; objs: ObjState[] }[];

function plan(state: RulesetState, c: ObjectCommand & { kind: ObjKind }, file: string): Plan {
  const out: Plan = [];
  if (c.table !== undefined) {
    const t = state.table(c.family!, c.table);
    if (!t) throw RulesetError.at(file, { line: c.line, col: 1 }, `no table ${c.family} ${c.table} (nft: No such file or directory)`);
    const objs = [...t.objs.values()].filter((o) => o.kind === c.kind && (c.name === undefined || o.json.name === c.name));
    if (c.name !== undefined && objs.length === 0) throw RulesetError.at(file, { line: c.line, col: 1 }, `no ${c.kind} ${c.name} in table ${c.family} ${c.table} (nft: No such file or directory)`);
    out.push({ table: `${c.family} ${c.table}`, objs });
    return out;
  }
  for (const t of state.tables.values()) {
    if (c.family !== undefined && t.json.family !== c.family) continue;
    out.push({ table: `${t.json.family} ${t.json.name}`, objs: [...t.objs.values()].filter((o) => o.kind === c.kind) });
  }
  return out;
}
