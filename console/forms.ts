/**
 * The rule builder's forms, generated from the module registry (GET /v1/schema, the
 * output of node/ruleset/schema.ts describeModules): every match and statement the node
 * registers becomes a form with its parameters, their types and help. Nothing here knows a
 * module by name, so a module added to the registry appears in the builder with no console
 * change (forms.test.ts proves it with an invented one).
 *
 * Pure and dependency-free: compiled by tsc and loaded as is by the browser
 * (/console/lib/forms.js) and by the unit tests.
 *
 * A rule draft becomes one libnftables JSON command, written as JSON text with a line map,
 * so that the positions (line:col) the node's check answers with point back to the match
 * or statement row they are about.
 */

/** One entry of GET /v1/schema (node/ruleset/schema.ts ModuleSchema), the fields used here. */
export interface SchemaEntry {
  kind: 'match' | 'statement' | 'type';
  name: string;
  help: string;
  families?: string[];
  type?: string;
  bits?: number;
  json?: unknown;
  syntax?: string;
  params?: { name: string; type: string; required?: boolean; help: string }[];
  symbols?: string[];
}

/** How a parameter is entered. */
export type FieldKind = 'integer' | 'boolean' | 'enum' | 'flags' | 'selector' | 'text';

export interface FieldForm {
  name: string;
  /** The registry's type text, shown beside the field. */
  type: string;
  kind: FieldKind;
  required: boolean;
  help: string;
  /** enum / flags: the allowed words; selector: the match names. */
  options?: string[];
}

export interface MatchForm {
  name: string;
  help: string;
  families: string[];
  /** The value's type name and what the registry says about it. */
  valueType: string;
  typeHelp: string;
  bits?: number;
  /** Names the type accepts instead of numbers (suggestions). */
  symbols: string[];
  /** libnftables JSON left-hand side. */
  left: unknown;
  syntax: string;
}

export interface StatementForm {
  name: string;
  help: string;
  families: string[];
  /** libnftables JSON keys this statement is written with (verdict: accept, drop, jump...). */
  keys: string[];
  fields: FieldForm[];
  syntax: string;
}

export interface Forms {
  matches: MatchForm[];
  statements: StatementForm[];
  /** The comparison operators a match row offers (from the registry's match statement when it names them). */
  ops: string[];
}

const DEFAULT_OPS = ['==', '!=', '<', '>', '<=', '>=', 'in'];
const OPERATOR = /^[=!<>]=?$|^[<>]$|^in$/;

/** A parameter's registry type text -> how it is entered. */
export function fieldOf(p: { name: string; type: string; required?: boolean; help: string }, matchNames: string[]): FieldForm {
  const base = { name: p.name, type: p.type, required: p.required === true, help: p.help };
  const t = p.type.trim();
  if (t === 'integer') return { ...base, kind: 'integer' };
  if (t === 'boolean') return { ...base, kind: 'boolean' };
  if (t === 'selector') return { ...base, kind: 'selector', options: matchNames };
  const list = /^list of:\s*(.+)$/.exec(t);
  if (list) return { ...base, kind: 'flags', options: list[1]!.split(',').map((s) => s.trim()).filter(Boolean) };
  // "a|b|c" of plain words is a choice; "address|range|map" names kinds of value, not words to send.
  if (t.includes('|')) {
    const words = t.split('|').map((s) => s.trim());
    const kindWords = new Set(['address', 'range', 'map', 'port', 'integer', 'string', 'value', 'prefix', 'set']);
    if (words.every((w) => w.length > 0 && !/[{}:]/.test(w)) && !words.some((w) => kindWords.has(w))) return { ...base, kind: 'enum', options: words };
  }
  return { ...base, kind: 'text' };
}

export function buildForms(schema: readonly SchemaEntry[]): Forms {
  const types = new Map(schema.filter((e) => e.kind === 'type').map((e) => [e.name, e]));
  const matches: MatchForm[] = schema
    .filter((e) => e.kind === 'match')
    .map((e) => {
      const t = types.get(e.type ?? '');
      return {
        name: e.name,
        help: e.help,
        families: e.families ?? [],
        valueType: e.type ?? 'value',
        typeHelp: t?.help ?? '',
        ...(t?.bits !== undefined ? { bits: t.bits } : {}),
        symbols: t?.symbols ?? [],
        left: e.json,
        syntax: e.syntax ?? e.name,
      };
    });
  const matchNames = matches.map((m) => m.name);
  const statements: StatementForm[] = schema
    .filter((e) => e.kind === 'statement')
    .map((e) => ({
      name: e.name,
      help: e.help,
      families: e.families ?? [],
      keys: Array.isArray(e.json) ? (e.json as unknown[]).map(String) : [e.name],
      fields: (e.params ?? []).map((p) => fieldOf(p, matchNames)),
      syntax: e.syntax ?? e.name,
    }));
  // The operators: what the registry's operator parameter lists, when one does.
  let ops = DEFAULT_OPS;
  for (const s of statements) for (const f of s.fields) if (f.kind === 'enum' && f.options!.every((o) => OPERATOR.test(o))) ops = f.options!;
  return { matches, statements, ops };
}

/** A rule being built: rows of matches and statements with the text the user typed. */
export interface RuleDraft {
  family: string;
  table: string;
  chain: string;
  matches: { name: string; op: string; value: string }[];
  statements: { name: string; key: string; values: Record<string, string | boolean | string[]> }[];
}

/** A problem with a draft, at a place in it (JSON pointer into the draft). */
export interface DraftError {
  at: string;
  message: string;
}

export interface BuiltRule {
  /** The libnftables JSON command ({"add": {"rule": ...}}). */
  command: unknown;
  /** The same as JSON text, one expression a line group, for the node's check and apply. */
  text: string;
  /** 1-based first line of each row's expression in `text`: matches first, then statements. */
  rowLines: { at: string; line: number }[];
  errors: DraftError[];
}

function isNumberText(s: string): boolean {
  return /^(0x[0-9a-fA-F]+|\d+)$/.test(s);
}

/** One scalar of a match value: a number when the type is numeric and the text is one, else the text. */
function scalar(m: MatchForm, s: string): string | number {
  const t = s.trim();
  if (m.bits !== undefined && isNumberText(t)) return Number(t);
  return t.replace(/^"(.*)"$/, '$1');
}

/** The right-hand side in libnftables JSON: a value, prefix, range, anonymous set, @set or flag list. */
export function matchValue(m: MatchForm, op: string, raw: string): { value?: unknown; error?: string } {
  const v = raw.trim();
  if (v === '') return { error: `a value of type ${m.valueType} is needed` };
  if (v.startsWith('@')) return /^@[A-Za-z_][\w.-]*$/.test(v) ? { value: v } : { error: `'${v}' is not a set name` };
  const inner = v.startsWith('{') && v.endsWith('}') ? v.slice(1, -1) : undefined;
  if (inner !== undefined || (v.includes(',') && op !== 'in')) {
    const items = (inner ?? v).split(',').map((x) => x.trim()).filter((x) => x.length > 0);
    if (items.length === 0) return { error: 'an empty set matches nothing' };
    const out: unknown[] = [];
    for (const it of items) {
      const one = matchValue(m, '==', it);
      if (one.error) return { error: `'${it}': ${one.error}` };
      out.push(one.value);
    }
    return { value: { set: out } };
  }
  if (op === 'in' && v.includes(',')) return { value: v.split(',').map((x) => scalar(m, x)) };
  const slash = /^([^/]+)\/(\d+)$/.exec(v);
  if (slash) {
    const len = Number(slash[2]);
    if (m.bits !== undefined && len > m.bits) return { error: `prefix length ${len} is longer than the ${m.bits} bits of ${m.valueType}` };
    return { value: { prefix: { addr: slash[1], len } } };
  }
  // a-b is a range unless the whole text is one of the type's names (echo-request).
  const dash = /^([^-\s]+)\s*-\s*([^-\s]+)$/.exec(v);
  if (dash && !m.symbols.includes(v)) return { value: { range: [scalar(m, dash[1]!), scalar(m, dash[2]!)] } };
  if (m.bits !== undefined && m.bits <= 32 && isNumberText(v)) {
    const n = Number(v);
    if (n >= 2 ** m.bits) return { error: `${v} does not fit the ${m.bits} bits of ${m.valueType}` };
  }
  return { value: scalar(m, v) };
}

/** A statement parameter's typed JSON value from what was entered; undefined: left out. */
function paramValue(f: FieldForm, raw: string | boolean | string[] | undefined, forms: Forms): { value?: unknown; error?: string } {
  if (raw === undefined || raw === '' || (Array.isArray(raw) && raw.length === 0)) return f.required ? { error: `${f.name} is required (${f.help})` } : {};
  switch (f.kind) {
    case 'boolean':
      return raw === true ? { value: true } : {};
    case 'flags':
      return { value: Array.isArray(raw) ? raw : String(raw).split(',').map((s) => s.trim()).filter(Boolean) };
    case 'integer': {
      const s = String(raw).trim();
      return /^\d+$/.test(s) ? { value: Number(s) } : { error: `${f.name} must be a non-negative integer, not '${s}'` };
    }
    case 'enum':
      return f.options!.includes(String(raw)) ? { value: String(raw) } : { error: `${f.name} must be one of ${f.options!.join(', ')}` };
    case 'selector': {
      const m = forms.matches.find((x) => x.name === String(raw).trim());
      return m ? { value: m.left } : { error: `${f.name}: no match named '${String(raw)}' (a selector is a match's name, e.g. ${forms.matches[0]?.name ?? '...'})` };
    }
    default: {
      // Structured values (maps, ranges) may be typed as JSON; numbers as numbers; else text.
      // A `string` parameter is sent as typed (a log prefix's trailing space matters).
      if (f.type === 'string') return { value: String(raw) };
      const s = String(raw).trim();
      if (/^[[{]/.test(s)) {
        try {
          return { value: JSON.parse(s) as unknown };
        } catch (err) {
          return { error: `${f.name}: not valid JSON (${(err as Error).message})` };
        }
      }
      return { value: isNumberText(s) ? Number(s) : s };
    }
  }
}

/**
 * Draft -> one `add rule` command (and its JSON text with a line per expression), or the
 * errors found before anything is sent, each at its row and field.
 */
export function buildRule(forms: Forms, d: RuleDraft): BuiltRule {
  const errors: DraftError[] = [];
  for (const k of ['family', 'table', 'chain'] as const) if (!d[k].trim()) errors.push({ at: `/${k}`, message: `${k} is required` });
  const exprs: { at: string; expr: unknown }[] = [];
  d.matches.forEach((row, i) => {
    const m = forms.matches.find((x) => x.name === row.name);
    if (!m) return void errors.push({ at: `/matches/${i}/name`, message: `no match named '${row.name}' on this node` });
    if (m.families.length > 0 && !m.families.includes(d.family)) errors.push({ at: `/matches/${i}/name`, message: `${m.name} is not available in ${d.family} tables (only ${m.families.join(', ')})` });
    if (!forms.ops.includes(row.op)) errors.push({ at: `/matches/${i}/op`, message: `operator must be one of ${forms.ops.join(' ')}` });
    const r = matchValue(m, row.op, row.value);
    if (r.error) return void errors.push({ at: `/matches/${i}/value`, message: r.error });
    exprs.push({ at: `/matches/${i}`, expr: { match: { op: row.op, left: m.left, right: r.value } } });
  });
  d.statements.forEach((row, i) => {
    const s = forms.statements.find((x) => x.name === row.name);
    if (!s) return void errors.push({ at: `/statements/${i}/name`, message: `no statement named '${row.name}' on this node` });
    if (!s.keys.includes(row.key)) return void errors.push({ at: `/statements/${i}/key`, message: `${s.name} is written as ${s.keys.join(', ')}` });
    const body: Record<string, unknown> = {};
    for (const f of s.fields) {
      const r = paramValue(f, row.values[f.name], forms);
      if (r.error) errors.push({ at: `/statements/${i}/${f.name}`, message: r.error });
      else if (r.value !== undefined) body[f.name] = r.value;
    }
    exprs.push({ at: `/statements/${i}`, expr: { [row.key]: Object.keys(body).length > 0 ? body : null } });
  });
  if (exprs.length === 0 && errors.length === 0) errors.push({ at: '/statements', message: 'a rule needs at least one match or statement' });
  const command = { add: { rule: { family: d.family, table: d.table, chain: d.chain, expr: exprs.map((e) => e.expr) } } };
  // One expression a line, so a line number names the row.
  const head = `{"nftables": [{"add": {"rule": {"family": ${JSON.stringify(d.family)}, "table": ${JSON.stringify(d.table)}, "chain": ${JSON.stringify(d.chain)}, "expr": [`;
  const rowLines = exprs.map((e, i) => ({ at: e.at, line: i + 2 }));
  const text = [head, ...exprs.map((e, i) => `  ${JSON.stringify(e.expr)}${i < exprs.length - 1 ? ',' : ''}`), ']}}}]}'].join('\n');
  return { command, text, rowLines, errors };
}

/** The row (JSON pointer into the draft) a line of BuiltRule.text belongs to. */
export function rowAtLine(b: BuiltRule, line: number): string | undefined {
  let at: string | undefined;
  for (const r of b.rowLines) if (r.line <= line) at = r.at;
  return at;
}

/** An empty draft row for a statement: its first JSON key, no values. */
export function newStatementRow(s: StatementForm): RuleDraft['statements'][number] {
  return { name: s.name, key: s.keys[0] ?? s.name, values: {} };
}
