/**
 * `meta mark set VALUE`, `ct mark set VALUE` (libnftables "mangle"). Applies to any
 * selector module declared writable. `ct mark set` also raises ctx.ctMarkSet so the
 * datapath writes the mark back to the conntrack entry.
 */
import type { Selector, Value } from '../ast.js';
import type { Registry, StatementModule } from '../registry.js';
import { leftKey } from '../registry.js';

interface MangleJ {
  key: Selector;
  value: Value;
}

export const mangleModule: StatementModule = {
  name: 'mangle',
  keywords: [],
  afterSelector: 'set',
  jsonKeys: ['mangle'],
  help: 'set a writable field: `meta mark set VALUE` (packet mark) or `ct mark set VALUE` (connection mark)',
  params: [
    { name: 'key', type: 'selector', required: true, help: 'meta mark or ct mark' },
    { name: 'value', type: 'mark', required: true, help: 'new value' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r, first, sel) {
    const t = r.peek();
    if (!sel) r.error('set needs a field before it', first);
    if (t.kind === 5) r.error('expected a value after set', t);
    const tw = r.expectWord();
    const n = /^0x[0-9a-f]+$/i.test(tw.text) ? parseInt(tw.text.slice(2), 16) : /^\d+$/.test(tw.text) ? Number(tw.text) : NaN;
    if (!(n >= 0 && n <= 0xffffffff)) r.error(`'${tw.text}' is not a valid mark (0..0xffffffff)`, tw);
    return { mangle: { key: sel!, value: n } };
  },
  print(stmt, p) {
    const m = (stmt as { mangle: MangleJ }).mangle;
    const v = typeof m.value === 'number' ? '0x' + m.value.toString(16).padStart(8, '0') : String(m.value);
    return `${p.selector(m.key)} set ${v}`;
  },
  checkJson(stmt) {
    const m = (stmt as { mangle: MangleJ }).mangle;
    if (!m || typeof m !== 'object' || !m.key) return 'mangle needs {key, value}';
    if (typeof m.value !== 'number' || !Number.isInteger(m.value) || m.value < 0 || m.value > 0xffffffff) return 'mangle value must be an integer 0..0xffffffff';
    return null;
  },
  validate(stmt, env) {
    const m = (stmt as { mangle: MangleJ }).mangle;
    const mod = env.registry.matchForLeft(m.key);
    if (!mod) env.errors.add(env.pos, `unknown field ${JSON.stringify(m.key)}`);
    else if (!mod.writable) env.errors.add(env.pos, `${mod.name} cannot be set (writable: ${env.registry.matches.filter((x) => x.writable).map((x) => x.name).join(', ')})`);
  },
  compile(stmt) {
    const m = (stmt as { mangle: MangleJ }).mangle;
    const v = (m.value as number) >>> 0;
    const key = leftKey(m.key);
    if (key === 'ct:mark') {
      return (ctx) => {
        ctx.ctMark = v;
        ctx.ctMarkSet = true;
        return 0;
      };
    }
    if (key === 'meta:mark') {
      return (ctx) => {
        ctx.metaMark = v;
        return 0;
      };
    }
    throw new Error(`no setter for ${key}`);
  },
};

export function registerMangle(r: Registry): void {
  r.registerStatement(mangleModule);
}
