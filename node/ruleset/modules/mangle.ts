/**
 * `meta mark set VALUE`, `ct mark set VALUE`, `tcp option maxseg size set VALUE`
 * (libnftables "mangle"), and the map form `meta mark set SELECTOR map { KEY : VALUE, ... }`
 * / `... map @NAME` (libnftables `{"map": {"key", "data"}}`): the value is looked up, and a
 * miss ends the rule as nft does. Applies to any selector module with a `store` (the
 * module says what writing means: `ct mark` also has the datapath write the entry's mark).
 */
import { notSupported } from '../not-supported.js';
import type { Selector, Value } from '../ast.js';
import type { Registry, StatementModule } from '../registry.js';
import { leftKey } from '../registry.js';
import type { CompiledSet } from '../set-structures.js';

type MapValue = { map: { key: Selector; data: string | { set: [Value, Value][] } } };

interface MangleJ {
  key: Selector;
  /**
   * A number, a name of the field's type (`cs1` for a DSCP), a map lookup, or another
   * field of the same type: `meta mark set ct mark` (connmark restore), `ct mark set meta
   * mark` (save), as libnftables writes them (`"value": {"ct": {"key": "mark"}}`).
   */
  value: number | string | MapValue | Selector;
}

function isMapValue(v: unknown): v is MapValue {
  return v !== null && typeof v === 'object' && 'map' in (v as object);
}

function isSelectorValue(v: unknown): v is Selector {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !('map' in (v as object));
}

const mangleModule: StatementModule = {
  name: 'mangle',
  keywords: [],
  afterSelector: 'set',
  jsonKeys: ['mangle'],
  help: 'set a writable field: `meta mark set VALUE` (packet mark), `ct mark set VALUE` (connection mark) or `tcp option maxseg size set VALUE` (MSS clamping); VALUE may be `SELECTOR map { KEY : VALUE }` or `SELECTOR map @NAME`',
  params: [
    { name: 'key', type: 'selector', required: true, help: 'a writable field: meta mark, ct mark, tcp option maxseg size' },
    { name: 'value', type: 'integer | {map: {key, data}}', required: true, help: 'new value (of the field\'s type), or a map lookup giving it' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r, first, sel) {
    if (!sel) r.error('set needs a field before it', first);
    const from = r.trySelectorExpr();
    if (from && !r.isWord('map')) return { mangle: { key: sel!, value: from } };
    if (from) {
      r.expectWord('map');
      const keyTypes = r.typesOf(from);
      const dataType = r.typesOf(sel!)[0];
      return { mangle: { key: sel!, value: { map: { key: from, data: r.mapData(keyTypes, dataType) } } } };
    }
    const tw = r.expectWord();
    const n = /^0x[0-9a-f]+$/i.test(tw.text) ? parseInt(tw.text.slice(2), 16) : /^\d+$/.test(tw.text) ? Number(tw.text) : NaN;
    const type = r.typesOf(sel!)[0];
    if (n >= 0 && n <= 0xffffffff) {
      // A number the type has a name for is kept as the name, as nft lists and writes it (`ip ecn set 1` is `ect1`).
      const named = type?.symbols ? type.toText(n) : undefined;
      return { mangle: { key: sel!, value: named !== undefined && type!.symbols!.has(named) ? named : n } };
    }
    // A name of the field's type (`cs1`), or its own explanation of why not.
    let v: unknown;
    try {
      v = type ? type.fromText(tw.text) : undefined;
    } catch (e) {
      if (typeof e === 'string') r.error(e, tw);
      throw e;
    }
    if (typeof v !== 'string' && typeof v !== 'number') r.error(`'${tw.text}' is not a valid value`, tw);
    return { mangle: { key: sel!, value: v as string | number } };
  },
  print(stmt, p) {
    const m = (stmt as { mangle: MangleJ }).mangle;
    const dataTypes = p.typesOf(m.key);
    if (isMapValue(m.value)) {
      const { key, data } = m.value.map;
      if (typeof data === 'string') return `${p.selector(m.key)} set ${p.selector(key)} map ${data}`;
      const kt = p.typesOf(key);
      const items = data.set.map(([k, v]) => `${p.value(k, kt)} : ${p.value(v, dataTypes)}`);
      return `${p.selector(m.key)} set ${p.selector(key)} map { ${items.join(', ')} }`;
    }
    if (isSelectorValue(m.value)) return `${p.selector(m.key)} set ${p.selector(m.value)}`;
    return `${p.selector(m.key)} set ${p.value(m.value, dataTypes)}`;
  },
  checkJson(stmt) {
    const m = (stmt as { mangle: MangleJ }).mangle;
    if (!m || typeof m !== 'object' || !m.key) return 'mangle needs {key, value}';
    if (isMapValue(m.value)) {
      const mv = m.value.map;
      if (!mv || !mv.key || mv.data === undefined) return 'a map value needs {key, data}';
      if (typeof mv.data === 'string') return mv.data.startsWith('@') ? null : 'map data must be @NAME or {set: [...]}';
      if (!Array.isArray(mv.data?.set) || mv.data.set.some((e) => !Array.isArray(e) || e.length !== 2)) return 'map data set must hold [KEY, VALUE] pairs';
      return null;
    }
    if (isSelectorValue(m.value)) return null; // validate checks it is a field of the right type
    if (typeof m.value === 'string') return m.value.length > 0 ? null : 'mangle value must not be empty';
    if (typeof m.value !== 'number' || !Number.isInteger(m.value) || m.value < 0 || m.value > 0xffffffff) return 'mangle value must be an integer 0..0xffffffff or a name';
    return null;
  },
  validate(stmt, env) {
    const m = (stmt as { mangle: MangleJ }).mangle;
    const mod = env.registry.matchForLeft(m.key);
    if (!mod) return env.errors.add(env.pos, `unknown field ${JSON.stringify(m.key)}`);
    if (mod.refused) return env.errors.add(env.pos, mod.refused);
    if (!mod.store) {
      if (mod.notWritable) return env.errors.add(env.pos, mod.notWritable);
      const why = notSupported([...mod.keywords, 'set']);
      if (why) return env.errors.add(env.pos, why);
      // Addresses and ports: the NAT statements change them, statefully (replies follow).
      if (/ (saddr|daddr|sport|dport)$/.test(mod.name)) {
        return env.errors.add(env.pos, `${mod.name} cannot be set: addresses and ports change through snat / dnat (stateful NAT: the connection's replies are translated back), not a payload write`);
      }
      return env.errors.add(env.pos, `${mod.name} cannot be set (writable: ${env.registry.matches.filter((x) => x.store).map((x) => x.name).join(', ')})`);
    }
    if (isSelectorValue(m.value)) {
      const from = env.selectorTypes(m.value);
      if (typeof from === 'string') return env.errors.add(env.pos, from);
      const gives = from.map((t) => t.name).join(' . ');
      // numgen/jhash/symhash give a plain 32-bit integer, which a 32-bit field takes as is.
      const anyInt = from.length === 1 && from[0]!.name === 'integer' && mod.type.words === 1 && mod.type.bits === 32;
      if (gives !== mod.type.name && !anyInt) env.errors.add(env.pos, `${mod.name} needs a ${mod.type.name}, the field gives ${gives}`);
      return;
    }
    if (!isMapValue(m.value)) {
      // The field's own range: 16 bits for an MSS, 32 for a mark.
      const err = env.checkValue(m.value, [mod.type]);
      if (err) env.errors.add(env.pos, err);
      return;
    }
    const keyTypes = env.selectorTypes(m.value.map.key);
    if (typeof keyTypes === 'string') return env.errors.add(env.pos, keyTypes);
    const data = m.value.map.data;
    if (typeof data === 'string') {
      const name = data.slice(1);
      const set = env.findSet(name);
      if (!set) return env.errors.add(env.pos, `unknown map '${name}'`);
      if (set.map !== mod.type.name) return env.errors.add(env.pos, `map '${name}' gives ${set.map ?? 'no data'}, ${mod.name} needs ${mod.type.name}`);
      const kt = Array.isArray(set.type) ? set.type : [set.type];
      if (kt.join(' . ') !== keyTypes.map((t) => t.name).join(' . ')) env.errors.add(env.pos, `map '${name}' has key type ${kt.join(' . ')}, the selector gives ${keyTypes.map((t) => t.name).join(' . ')}`);
      return;
    }
    for (const [k, v] of data.set) {
      const e1 = env.checkValue(k, keyTypes);
      if (e1) env.errors.add(env.pos, e1);
      const e2 = env.checkValue(v, [mod.type]);
      if (e2) env.errors.add(env.pos, e2);
    }
  },
  compile(stmt, env) {
    const m = (stmt as { mangle: MangleJ }).mangle;
    const mod = env.registry.matchForLeft(m.key);
    const store = mod?.store;
    if (!mod || !store) throw new Error(`no setter for ${leftKey(m.key)}`);
    if (isSelectorValue(m.value)) {
      // Copies a field: nothing is written when it has no value (a packet without it).
      const from = env.selector(m.value);
      const load = from.load;
      const w = new Uint32Array(from.words);
      return (ctx) => {
        if (!load(ctx, w, 0)) return 5; // Code.Break
        store(ctx, w[0]! >>> 0);
        return 0;
      };
    }
    if (!isMapValue(m.value)) {
      const scratch = new Uint32Array(1);
      const err = mod.type.encode(m.value, scratch, 0, env.encode);
      if (err) throw new Error(err);
      const v = scratch[0]!;
      return (ctx) => {
        store(ctx, v);
        return 0;
      };
    }
    const sel = env.selector(m.value.map.key);
    const data = m.value.map.data;
    let set: CompiledSet | undefined;
    if (typeof data === 'string') set = env.set(data.slice(1));
    else {
      const scratch = new Uint32Array(1);
      const t = env.registry.matchForLeft(m.key)!.type;
      set = env.anonSet(sel.types, data.set.map(([k, v]) => {
        const err = t.encode(v as number, scratch, 0, env.encode);
        if (err) throw new Error(err);
        return { val: k, data: scratch[0] };
      }));
    }
    if (!set) throw new Error(`map ${String(data)} not compiled`);
    const s = set;
    const load = sel.load;
    const k = new Uint32Array(sel.words);
    return (ctx) => {
      if (!load(ctx, k, 0)) return 5; // Code.Break
      const i = s.lookup(k, 0, ctx.nowMs);
      if (i < 0) return 5;
      store(ctx, s.dataOf(i) >>> 0);
      return 0;
    };
  },
};

export function registerMangle(r: Registry): void {
  r.registerStatement(mangleModule);
}
