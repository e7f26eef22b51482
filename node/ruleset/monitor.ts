/**
 * Change events as `nft monitor` prints them: one line per change, in nft syntax, so an
 * operator can read (or replay) them. A trailing comment line names the generation.
 */
import type { ChainJ, ObjJ, RuleJ, SetJ, Value, VerdictJ, ElementJ } from './ast.js';
import { helperBodyText, objToStmt } from './objects.js';
import type { FlowtableJ } from './ast.js';
import { flowtableBodyLines } from './flowtables.js';
import type { ChangeEvent } from './engine.js';
import { priorityText } from './priorities.js';
import { Printer } from './printer.js';
import type { Registry } from './registry.js';
import type { Change } from './transaction.js';
import { formatDuration } from './durations.js';

export function formatChange(c: Change, registry: Registry): string {
  const p = new Printer(registry);
  const where = `${c.family ?? ''} ${c.table ?? ''}`.trim();
  switch (c.kind) {
    case 'ruleset':
      return 'flush ruleset';
    case 'table':
      return `${c.op} table ${where}`;
    case 'chain': {
      if (c.op !== 'add') return `${c.op} chain ${where} ${c.chain}`;
      const j = (c.object as { chain: ChainJ }).chain;
      if (j.hook === undefined) return `add chain ${where} ${c.chain}`;
      const prio = priorityText(j.prio ?? 0, j.hook);
      return `add chain ${where} ${c.chain} { type ${j.type} hook ${j.hook} priority ${prio}; policy ${j.policy ?? 'accept'}; }`;
    }
    case 'rule': {
      if (c.op === 'delete') return `delete rule ${where} ${c.chain} handle ${c.handle}`;
      const r = (c.object as { rule: RuleJ }).rule;
      const verb = c.op === 'replace' ? `replace rule ${where} ${c.chain} handle ${c.handle}` : `${c.op} rule ${where} ${c.chain}`;
      return `${verb} ${p.rule(r)}${c.op === 'replace' ? '' : ` # handle ${c.handle}`}`;
    }
    case 'set':
    case 'map': {
      if (c.op !== 'add') return `${c.op} ${c.kind} ${where} ${c.name}`;
      const j = (c.object as Record<string, SetJ>)[c.kind];
      const type = Array.isArray(j.type) ? j.type.join(' . ') : j.type;
      let body = `type ${type}${j.map ? ` : ${j.map}` : ''};`;
      if (j.flags?.length) body += ` flags ${j.flags.join(',')};`;
      if (j.timeout !== undefined) body += ` timeout ${formatDuration(j.timeout)};`;
      return `add ${c.kind} ${where} ${c.name} { ${body} }`;
    }
    case 'ct helper': {
      if (c.op !== 'add') return `${c.op} ct helper ${where} ${c.name}`;
      return `add ct helper ${where} ${c.name} { ${helperBodyText((c.object as Record<string, ObjJ>)[c.kind]!).join('; ')}; }`;
    }
    case 'counter':
    case 'quota':
    case 'limit': {
      if (c.op !== 'add') return `${c.op} ${c.kind} ${where} ${c.name}`;
      const j = (c.object as Record<string, ObjJ>)[c.kind]!;
      const stmt = objToStmt(c.kind, j);
      return `add ${c.kind} ${where} ${c.name} { ${registry.statementForJson(stmt)!.print(stmt, p).slice(c.kind.length + 1)} }`;
    }
    case 'flowtable': {
      if (c.op !== 'add') return `${c.op} flowtable ${where} ${c.name}`;
      const j = (c.object as { flowtable: FlowtableJ }).flowtable;
      return `add flowtable ${where} ${c.name} { ${flowtableBodyLines(j).join('; ')}; }`;
    }
    case 'element': {
      const e = (c.object as { element: ElementJ }).element;
      const items = e.elem.map((it) => {
        if (Array.isArray(it) && it.length === 2 && it[1] !== null && typeof it[1] === 'object' && !Array.isArray(it[1])) {
          const d = it[1] as VerdictJ;
          return `${JSON.stringify(it[0]).replace(/^"|"$/g, '')} : ${p.verdict(d)}`;
        }
        return valueText(it as Value);
      });
      return `${c.op} element ${where} ${c.name} { ${items.join(', ')} }`;
    }
  }
  return JSON.stringify(c);
}

function valueText(v: Value): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'exists' : 'missing';
  if (Array.isArray(v)) return v.map((x) => valueText(x as Value)).join(',');
  if ('prefix' in v) return `${v.prefix.addr}/${v.prefix.len}`;
  if ('range' in v) return `${valueText(v.range[0])}-${valueText(v.range[1])}`;
  if ('concat' in v) return v.concat.map(valueText).join(' . ');
  if ('elem' in v) return valueText(v.elem.val) + (v.elem.timeout !== undefined ? ` timeout ${formatDuration(v.elem.timeout)}` : '');
  if ('set' in v) return `{ ${v.set.map((x) => valueText(x as Value)).join(', ')} }`;
  return JSON.stringify(v);
}

/** All lines of one committed transaction, ending with `# new generation N`. */
export function formatEvent(ev: ChangeEvent, registry: Registry): string {
  return [...ev.changes.map((c) => formatChange(c, registry)), `# new generation ${ev.generation}`].join('\n');
}
