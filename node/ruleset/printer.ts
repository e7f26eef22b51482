/**
 * State -> text in the layout of `nft list ruleset`; what it prints parses back to the
 * same JSON (the round-trip tests hold it to that). Statements are printed by their
 * modules through a small PrintHelper.
 */
import { SET_TYPEOF } from './ast.js';
import type { RuleJ, Scalar, Selector, SetItem, SetJ, Stmt, Value, VerdictJ } from './ast.js';
import type { DataType } from './data-types.js';
import { flagNames } from './data-types.js';
import { formatDuration } from './durations.js';
import { priorityText } from './priorities.js';
import { sortedItems } from './canonical.js';
import { mergedElements } from './merged-elements.js';
import type { PrintHelper, Registry } from './registry.js';
import type { ElemItem, RulesetState, SetState } from './state.js';
import { verdictText } from './modules/verdicts.js';
import { withLiveCells } from './live-cells.js';
import { objBodyText } from './objects.js';
import { elemStmts, hasElemStmts } from './elem-exprs.js';
import { flowtableBodyLines } from './flowtables.js';

export interface PrintOptions {
  /** Append `# handle N` like `nft -a`. */
  handles?: boolean;
  /** Current counter values for a rule's counter statements, in order. */
  counters?: (rule: RuleJ) => readonly { packets: number; bytes: number }[] | undefined;
  /** Clock (ms) for element expiry; expired elements are not printed. */
  nowMs?: number;
  /**
   * A set's elements as they are now, when its structure knows more than the committed
   * state (elements the packet path added, per-element counters): already filtered for
   * expiry. Undefined: the committed elements.
   */
  elements?: (s: SetState) => readonly ElemItem[] | undefined;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

export class Printer implements PrintHelper {
  constructor(readonly registry: Registry) {}

  quote(s: string): string {
    return quote(s);
  }

  typesOf(sel: Selector): DataType[] {
    if ('concat' in sel) return sel.concat.flatMap((s) => this.typesOf(s));
    if ('&' in sel) return this.typesOf(sel['&'][0]);
    const m = this.registry.matchForLeft(sel);
    if (!m) throw new Error(`unknown selector ${JSON.stringify(sel)}`);
    return [m.type];
  }

  selector(sel: Selector): string {
    if ('concat' in sel) return sel.concat.map((s) => this.selector(s)).join(' . ');
    if ('&' in sel) return this.selector(sel['&'][0]);
    const m = this.registry.matchForLeft(sel);
    if (m?.printSel) return m.printSel(sel, this);
    return m ? m.keywords.join(' ') : JSON.stringify(sel);
  }

  verdict(v: VerdictJ): string {
    return verdictText(v);
  }

  statement(stmt: Stmt): string {
    const mod = this.registry.statementForJson(stmt);
    return mod ? mod.print(stmt, this) : JSON.stringify(stmt);
  }

  value(v: Value, types: DataType[]): string {
    if (typeof v === 'string' && v.startsWith('@')) return v;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return this.scalar(v, types[0]);
    if (Array.isArray(v)) return (v as Value[]).map((x) => this.value(x, types)).join(',');
    if ('set' in v) {
      const items = v.set.map((e) => (Array.isArray(e) && e.length === 2 && types.length >= 1 && !(types[0].bitmask) && typeof e[1] === 'object' && e[1] !== null && !Array.isArray(e[1])
        ? `${this.value(e[0] as Value, types)} : ${this.verdict(e[1] as VerdictJ)}`
        : this.value(e as Value, types)));
      return `{ ${items.join(', ')} }`;
    }
    if ('concat' in v) return v.concat.map((x, i) => this.value(x, [types[i] ?? types[0]])).join(' . ');
    if ('prefix' in v) return `${this.scalar(v.prefix.addr, types[0])}/${v.prefix.len}`;
    if ('range' in v) return `${this.value(v.range[0], types)}-${this.value(v.range[1], types)}`;
    if ('elem' in v) {
      let s = this.value(v.elem.val, types);
      // nft's order: the element's statements, then timeout, expires, comment.
      if (hasElemStmts(v.elem)) for (const st of elemStmts(v.elem)) s += ` ${this.statement(st)}`;
      if (v.elem.timeout !== undefined) s += ` timeout ${formatDuration(v.elem.timeout)}`;
      if (v.elem.expires !== undefined) s += ` expires ${formatDuration(v.elem.expires)}`;
      if (v.elem.comment !== undefined) s += ` comment ${quote(v.elem.comment)}`;
      return s;
    }
    return JSON.stringify(v);
  }

  private scalar(v: Scalar, t: DataType | undefined): string {
    if (!t) return String(v);
    if (typeof v === 'number' && t.bitmask) {
      const names = flagNames(t, v);
      if (names && names.length > 0) return names.join(',');
    }
    if (typeof v === 'string' && !t.quoted && !/^[A-Za-z0-9_.:/-]+$/.test(v)) return quote(v);
    return t.toText(v);
  }

  rule(r: RuleJ, opts: PrintOptions = {}): string {
    const parts = withLiveCells(r.expr, opts.counters?.(r)).map((stmt) => {
      const mod = this.registry.statementForJson(stmt);
      if (!mod) return JSON.stringify(stmt);
      return mod.print(stmt, this);
    });
    let s = parts.join(' ');
    if (r.comment !== undefined) s += ` comment ${quote(r.comment)}`;
    if (opts.handles && r.handle !== undefined) s += ` # handle ${r.handle}`;
    return s;
  }

  setTypes(j: SetJ): DataType[] {
    const names = Array.isArray(j.type) ? j.type : [j.type];
    return names.map((n) => this.registry.type(n)!).filter(Boolean);
  }

  set(s: SetState, indent: string, opts: PrintOptions): string {
    const j = s.json;
    const kw = s.isMap ? 'map' : 'set';
    const names = Array.isArray(j.type) ? j.type.join(' . ') : j.type;
    const lines: string[] = [`${indent}${kw} ${j.name} {${opts.handles && j.handle ? ` # handle ${j.handle}` : ''}`];
    const declared = j[SET_TYPEOF];
    if (declared !== undefined) {
      // nft lists a set declared with typeof by its selectors (kept in the set's user data).
      const data = !s.isMap ? '' : declared.data !== undefined ? ` : ${this.selector(declared.data)}` : ` : ${j.map}`;
      lines.push(`${indent}\ttypeof ${this.selector(declared.key)}${data}`);
    } else lines.push(`${indent}\ttype ${names}${s.isMap ? ` : ${j.map}` : ''}`);
    // nft's order (nft list ruleset, 1.0.6): policy, size, flags, auto-merge, timeout, comment.
    if (j.policy !== undefined) lines.push(`${indent}\tpolicy ${j.policy}`);
    if (j.size !== undefined) lines.push(`${indent}\tsize ${j.size}`);
    // nft 1.0.6 leaves `timeout` out of the flags when the set has a default timeout, unless
    // the set is dynamic (both seen in its listings).
    const flags = j.timeout !== undefined && !j.flags?.includes('dynamic') ? j.flags?.filter((f) => f !== 'timeout') : j.flags;
    if (flags?.length) lines.push(`${indent}\tflags ${flags.join(',')}`);
    if (j['auto-merge']) lines.push(`${indent}\tauto-merge`);
    if (j.timeout !== undefined) lines.push(`${indent}\ttimeout ${formatDuration(j.timeout)}`);
    if (j.comment !== undefined) lines.push(`${indent}\tcomment ${quote(j.comment)}`);
    const types = this.setTypes(j);
    const dataTypes = s.isMap && j.map !== 'verdict' ? this.registry.dataTypes(j.map ?? '') : undefined;
    const items: string[] = [];
    const now = opts.nowMs;
    const item = (it: ElemItem): void => {
      if (s.isMap && Array.isArray(it)) {
        const [k, d] = it as [Value, Value | VerdictJ];
        const ds = j.map === 'verdict' ? this.verdict(d as VerdictJ) : this.value(d as Value, dataTypes ?? []);
        items.push(`${this.value(k, types)} : ${ds}`);
      } else {
        items.push(this.value(it as Value, types));
      }
    };
    let its: ElemItem[] | undefined = opts.elements?.(s)?.slice();
    if (its === undefined) {
      its = [];
      for (const e of s.elems.values()) {
        if (now !== undefined && e.expiresAt !== 0 && now >= e.expiresAt) continue;
        its.push(e.item);
      }
    }
    // In nft's order (by key, canonical.ts), whatever order they were added in.
    const sorted = sortedItems(its as SetItem[], types, s.isMap, j.flags?.includes('interval') ?? false) as ElemItem[];
    // auto-merge: listed merged, as nft lists the kernel's merged copy.
    const merged = j['auto-merge'] && !s.isMap && types.length === 1 ? mergedElements(sorted as Value[], types[0]!) : undefined;
    if (merged) for (const v of merged) items.push(this.value(v, types));
    else for (const it of sorted) item(it);
    if (items.length > 0) {
      // nft's line breaks: a few short values a line, one address or concatenation a line.
      const perLine = elementsPerLine(types);
      const text = items.map((it, i) => (i === 0 ? it : i % perLine === 0 ? `,\n${indent}\t\t     ${it}` : `, ${it}`)).join('');
      lines.push(`${indent}\telements = { ${text} }`);
    }
    lines.push(`${indent}}`);
    return lines.join('\n');
  }

  ruleset(state: RulesetState, opts: PrintOptions = {}): string {
    const out: string[] = [];
    for (const t of state.tables.values()) {
      const blocks: string[] = [];
      // nft lists the table's comment on the line after its name, without a blank line.
      const head = t.json.comment !== undefined ? `\n\tcomment ${quote(t.json.comment)}` : '';
      // nft lists a table's objects before its sets and chains, with their current values.
      for (const o of t.objs.values()) {
        const lines = [`\t${o.kind} ${o.json.name} {${opts.handles && o.json.handle ? ` # handle ${o.json.handle}` : ''}`];
        if (o.json.comment !== undefined) lines.push(`\t\tcomment ${quote(o.json.comment)}`);
        // Current values in a listing that shows live counters (not in the cluster's canonical text).
        lines.push(`\t\t${objBodyText(o, this.registry, opts.counters !== undefined)}`, '\t}');
        blocks.push(lines.join('\n'));
      }
      for (const s of t.sets.values()) blocks.push(this.set(s, '\t', opts));
      // nft lists flowtables after the sets, before the chains.
      for (const f of t.flowtables.values()) {
        const head = `\tflowtable ${f.json.name} {${opts.handles && f.json.handle ? ` # handle ${f.json.handle}` : ''}`;
        blocks.push([head, ...flowtableBodyLines(f.json).map((l) => `\t\t${l}`), '\t}'].join('\n'));
      }
      for (const c of t.chains.values()) {
        const j = c.json;
        const lines = [`\tchain ${j.name} {${opts.handles && j.handle ? ` # handle ${j.handle}` : ''}`];
        // nft: the comment first, then the hook line.
        if (j.comment !== undefined) lines.push(`\t\tcomment ${quote(j.comment)}`);
        if (j.hook !== undefined) {
          lines.push(`\t\ttype ${j.type} hook ${j.hook} priority ${priorityText(j.prio ?? 0, j.hook)}; policy ${j.policy ?? 'accept'};`);
        }
        for (const r of c.rules) lines.push(`\t\t${this.rule(r, opts)}`);
        lines.push('\t}');
        blocks.push(lines.join('\n'));
      }
      out.push(`table ${t.json.family} ${t.json.name} {${opts.handles && t.json.handle ? ` # handle ${t.json.handle}` : ''}${head}\n${blocks.join('\n\n')}\n}`);
    }
    return out.join('\n') + (out.length ? '\n' : '');
  }
}

/**
 * How many elements nft 1.0.6 lists on a line of a set's `elements = { ... }`: 5 for
 * ports, protocols, marks and other small numbers, 2 for IPv4 addresses and conntrack
 * states, 1 for everything else (IPv6 addresses, names, concatenations).
 */
function elementsPerLine(types: DataType[]): number {
  if (types.length !== 1) return 1;
  switch (types[0]!.name) {
    case 'inet_service': case 'inet_proto': case 'mark': case 'nf_proto': case 'ct_dir': case 'tcp_flag': case 'integer':
      return 5;
    case 'ipv4_addr': case 'ct_state': case 'ct_status': case 'pkttype':
      return 2;
    default:
      return 1;
  }
}
