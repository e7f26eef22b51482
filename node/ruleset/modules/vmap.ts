/**
 * Verdict maps: `SELECTOR vmap { KEY : VERDICT, ... }` or `SELECTOR vmap @NAME`. One
 * lookup picks the verdict; no element means the rule does not apply. Every jump/goto
 * in the map is an edge of the chain graph for loop detection.
 */
import type { Selector, Value, VerdictJ, SetJ } from '../ast.js';
import type { Registry, StatementModule } from '../registry.js';
import { isVerdict } from './verdicts.js';

interface VmapJ {
  key: Selector;
  data: string | { set: [Value, VerdictJ][] };
}

const vmapModule: StatementModule = {
  name: 'vmap',
  keywords: [],
  afterSelector: 'vmap',
  jsonKeys: ['vmap'],
  help: 'look the selector up in a verdict map and apply the verdict found; no element: the rule does not apply',
  params: [
    { name: 'key', type: 'selector', required: true, help: 'what to look up (may be a concatenation)' },
    { name: 'data', type: 'map', required: true, help: 'anonymous map { KEY : VERDICT, ... } or @NAME of a verdict map' },
  ],
  families: ['ip', 'ip6', 'inet'],
  terminal: true,
  parse(r, first, sel) {
    if (!sel) r.error('vmap needs a selector before it', first);
    const data = r.mapData(r.typesOf(sel!)) as VmapJ['data'];
    return { vmap: { key: sel, data } };
  },
  print(stmt, p) {
    const v = (stmt as { vmap: VmapJ }).vmap;
    if (typeof v.data === 'string') return `${p.selector(v.key)} vmap ${v.data}`;
    const types = p.typesOf(v.key);
    const items = v.data.set.map(([k, d]) => `${p.value(k, types)} : ${p.verdict(d)}`);
    return `${p.selector(v.key)} vmap { ${items.join(', ')} }`;
  },
  checkJson(stmt) {
    const v = (stmt as { vmap: VmapJ }).vmap;
    if (!v || typeof v !== 'object' || !v.key || v.data === undefined) return 'vmap needs {key, data}';
    if (typeof v.data === 'string') return v.data.startsWith('@') ? null : 'vmap data must be @NAME or {set: [...]}';
    if (!v.data || !Array.isArray(v.data.set)) return 'vmap data must be @NAME or {set: [...]}';
    for (const e of v.data.set) {
      if (!Array.isArray(e) || e.length !== 2 || !isVerdict(e[1])) return 'vmap elements must be [KEY, VERDICT]';
    }
    return null;
  },
  validate(stmt, env) {
    const v = (stmt as { vmap: VmapJ }).vmap;
    const types = env.selectorTypes(v.key);
    if (typeof types === 'string') {
      env.errors.add(env.pos, types);
      return;
    }
    if (typeof v.data === 'string') {
      const name = v.data.slice(1);
      const set: SetJ | undefined = env.findSet(name);
      if (!set) return env.errors.add(env.pos, `unknown map '${name}'`);
      if (set.map !== 'verdict') return env.errors.add(env.pos, `'${name}' is not a verdict map`);
      const keyTypes = Array.isArray(set.type) ? set.type : [set.type];
      if (keyTypes.join(' . ') !== types.map((t) => t.name).join(' . ')) {
        env.errors.add(env.pos, `map '${name}' has key type ${keyTypes.join(' . ')}, the selector gives ${types.map((t) => t.name).join(' . ')}`);
      }
      // Edges of named maps are added by validation from the map's own elements.
      return;
    }
    for (const [k, d] of v.data.set) {
      const err = env.checkValue(k, types);
      if (err) env.errors.add(env.pos, err);
      if ('jump' in d || 'goto' in d) {
        const target = 'jump' in d ? d.jump.target : d.goto.target;
        if (!env.hasChain(target)) env.errors.add(env.pos, `unknown chain '${target}'`);
        else if (env.isBaseChain(target)) env.errors.add(env.pos, `cannot jump or goto base chain '${target}'`);
        else env.edge(target, 'goto' in d);
      }
    }
  },
  compile(stmt, env) {
    const v = (stmt as { vmap: VmapJ }).vmap;
    const sel = env.selector(v.key);
    const key = new Uint32Array(sel.words);
    const load = sel.load;
    let set;
    if (typeof v.data === 'string') {
      set = env.set(v.data.slice(1));
      if (!set) throw new Error(`map ${v.data} not compiled`);
    } else {
      set = env.anonSet(sel.types, v.data.set.map(([k, d]) => ({ val: k, data: env.verdictCode(d) })));
    }
    const s = set;
    return (ctx) => {
      if (!load(ctx, key, 0)) return 5;
      const i = s.lookup(key, 0, ctx.nowMs);
      return i < 0 ? 5 : s.dataOf(i);
    };
  },
};

export function registerVmap(r: Registry): void {
  r.registerStatement(vmapModule);
}
