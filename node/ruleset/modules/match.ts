/**
 * The relational match `SELECTOR [OP] VALUE` (libnftables "match"). Which selectors
 * exist is up to the selector modules; this module is the one generic statement that
 * compares any of them with any value its type accepts: exact, prefix, range,
 * anonymous set, named set (@name), flag lists and masked flags.
 */
import type { MatchOp, Selector, Value } from '../ast.js';
import type { Registry, StatementModule } from '../registry.js';

interface MatchJ {
  op: MatchOp;
  left: Selector;
  right: Value;
}

const OPS: MatchOp[] = ['==', '!=', '<', '>', '<=', '>=', 'in'];

const matchModule: StatementModule = {
  name: 'match',
  keywords: [],
  jsonKeys: ['match'],
  help: 'compare a selector with a value, prefix, range, set or @named set: SELECTOR [==|!=|<|>|<=|>=] VALUE',
  params: [
    { name: 'op', type: OPS.join('|'), required: true, help: "operator ('in' for flag lists)" },
    { name: 'left', type: 'selector', required: true, help: 'what to read from the packet (see the match modules)' },
    { name: 'right', type: 'value', required: true, help: 'value of the selector type' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r, first) {
    return r.error('internal: match is parsed by the parser core', first);
  },
  print(stmt, p) {
    const m = (stmt as { match: MatchJ }).match;
    let left = m.left;
    let mask = '';
    if ('&' in left) {
      const [inner, maskV] = left['&'];
      const types = p.typesOf(inner);
      // `tcp flags syn / syn,ack` when it reads back the same; nft's `& MASK == VALUE`
      // otherwise (a flag combination on the right, a mark, a != comparison).
      const slash = types.length === 1 && types[0]!.bitmask && m.op === '==' && !Array.isArray(m.right);
      if (!slash) {
        const bits = (v: Value) => (Array.isArray(v) ? (v as Value[]).map((x) => p.value(x, types)).join('|') : p.value(v, types));
        const t0 = types.length === 1 ? types[0] : undefined;
        const maskText = Array.isArray(maskV) && maskV.length > 1 ? `(${bits(maskV)})` : t0?.maskText && typeof maskV === 'number' ? t0.maskText(maskV) : bits(maskV);
        return `${p.selector(inner)} & ${maskText} ${m.op} ${bits(m.right)}`;
      }
      mask = ` / ${p.value(maskV, types)}`;
      left = inner;
    }
    const types = p.typesOf(left);
    const flagType = types.length === 1 && types[0].bitmask && !mask;
    // nft lists an exact comparison with a flag combination as `established | related`.
    if (flagType && m.op === '==' && Array.isArray(m.right) && m.right.length > 1) {
      return `${p.selector(left)} ${(m.right as Value[]).map((x) => p.value(x, types)).join(' | ')}`;
    }
    // `==` is implicit except on flag types, where a bare value means "any bit set" ('in');
    // a set is always compared whole, so nft lists it without `==`.
    const isSet = m.right !== null && typeof m.right === 'object' && !Array.isArray(m.right) && 'set' in m.right;
    const op = m.op === 'in' || (m.op === '==' && (!flagType || isSet)) ? '' : `${m.op} `;
    return `${p.selector(left)} ${op}${p.value(m.right, types)}${mask}`;
  },
  checkJson(stmt) {
    const m = (stmt as { match: MatchJ }).match;
    if (!m || typeof m !== 'object') return 'match needs {op, left, right}';
    if (!OPS.includes(m.op)) return `match op must be one of ${OPS.join(' ')}`;
    if (!m.left || typeof m.left !== 'object') return 'match left must be a selector object';
    if (m.right === undefined || m.right === null) return 'match right is missing';
    return null;
  },
  validate(stmt, env) {
    const m = (stmt as { match: MatchJ }).match;
    let left = m.left;
    if ('&' in left) left = left['&'][0];
    const types = env.selectorTypes(left);
    if (typeof types === 'string') return env.errors.add(env.pos, types);
    const ctPort = env.transportContext ? undefined : ctProtoField(left);
    if (ctPort !== undefined) {
      return env.errors.add(env.pos, `${ctPort} needs a transport protocol match earlier in the rule (meta l4proto udp, tcp dport 22, ip protocol tcp...): without one nft cannot tell what the value is ("Can't parse symbolic invalid expressions")`);
    }
    const t0 = types[0];
    if (types.length === 1 && (m.op === '<' || m.op === '>' || m.op === '<=' || m.op === '>=') && !t0.ordered) {
      env.errors.add(env.pos, `operator ${m.op} needs an ordered type, ${t0.name} is not`);
    }
    if (typeof m.right === 'string' && m.right.startsWith('@')) {
      const name = m.right.slice(1);
      const set = env.findSet(name);
      if (!set) return env.errors.add(env.pos, `unknown set '${name}'`);
      const keyTypes = Array.isArray(set.type) ? set.type : [set.type];
      const want = types.map((t) => t.name).join(' . ');
      if (keyTypes.join(' . ') !== want) env.errors.add(env.pos, `set '${name}' holds ${keyTypes.join(' . ')}, the selector gives ${want}`);
      return;
    }
    const err = env.checkValue(m.right, types);
    if (err) env.errors.add(env.pos, err);
    if ('&' in m.left) {
      const e2 = env.checkValue(m.left['&'][1], types);
      if (e2) env.errors.add(env.pos, e2);
      // As the kernel's bitwise expression: the field's bits under the mask, then any
      // comparison, range or set of the field's type (`ip saddr & 0.0.0.255 < 0.0.0.127`).
      if (types.length !== 1) env.errors.add(env.pos, `a mask (&) applies to one field, not a concatenation (${types.map((t) => t.name).join(' . ')})`);
      const mv = m.left['&'][1];
      if (mv !== null && typeof mv === 'object' && !Array.isArray(mv)) env.errors.add(env.pos, 'a mask is one value, not a set, range or prefix');
    }
  },
  compile(stmt, env) {
    const m = (stmt as { match: MatchJ }).match;
    return env.match(m.left, m.op, m.right);
  },
};

export function registerMatch(r: Registry): void {
  r.registerStatement(matchModule);
}

/** `ct [original|reply] proto-src|proto-dst` in the selector (or a concatenation part): its text, else undefined. */
function ctProtoField(sel: Selector): string | undefined {
  if ('concat' in sel) {
    for (const s of sel.concat) {
      const f = ctProtoField(s);
      if (f !== undefined) return f;
    }
    return undefined;
  }
  const ct = (sel as { ct?: { key?: string; dir?: string } }).ct;
  if (ct === undefined || (ct.key !== 'proto-src' && ct.key !== 'proto-dst')) return undefined;
  return `ct ${ct.dir !== undefined ? ct.dir + ' ' : ''}${ct.key}`;
}
