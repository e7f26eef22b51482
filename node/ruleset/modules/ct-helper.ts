/**
 * `ct helper set "NAME"`: the connection this packet opens gets the helper of the table's
 * `ct helper NAME { type "ftp" protocol tcp; }` object (objects.ts; JSON `{"ct helper":
 * "NAME"}` as libnftables writes it). `ct helper "ftp"`: matches packets of connections
 * whose helper is that type (nft's ct helper expression compares the helper's name, not the
 * object's); packets with no conntrack entry, or of a connection with no helper, do not match.
 */
import { CtHelperId, CT_HELPER_NAMES, ctHelperId } from '../ct-helpers.js';
import type { DataType } from '../data-types.js';
import type { Registry, StatementModule } from '../registry.js';
import { Tok } from '../lexer.js';
import { CT_STATE_IN_CONNECTION } from '../../ct-state/index.js';

/** nft's ct_helper type: a helper name (a string); here one of the helpers hafw has. */
const CT_HELPER: DataType = {
  name: 'ct_helper',
  help: 'conntrack helper name ("ftp")',
  words: 1,
  bits: 32,
  ordered: false,
  quoted: true,
  fromText(word) {
    const id = ctHelperId(word);
    if (typeof id === 'string') throw id;
    return word;
  },
  encode(v, out, off) {
    const id = typeof v === 'string' ? ctHelperId(v) : `'${v}' is not a helper name`;
    if (typeof id === 'string') return id;
    out[off] = id;
    return null;
  },
  toText(v) {
    return JSON.stringify(String(v));
  },
};

const ctHelperSetModule: StatementModule = {
  name: 'ct helper set',
  keywords: ['ct helper set'],
  jsonKeys: ['ct helper'],
  help: 'assign the table\'s ct helper object NAME to the connection this packet opens (the FTP helper parses its control channel and makes the data connection `ct state related`)',
  params: [{ name: 'ct helper', type: 'string', required: true, help: 'the name of a ct helper object in the same table' }],
  families: ['ip', 'ip6', 'inet'],
  parse(r, first) {
    const t = r.peek();
    if (t.kind !== Tok.String && t.kind !== Tok.Word) r.error('expected the ct helper object\'s name after ct helper set', first);
    return { 'ct helper': r.string() };
  },
  print(stmt, p) {
    return `ct helper set ${p.quote((stmt as { 'ct helper': string })['ct helper'])}`;
  },
  checkJson(stmt) {
    const n = (stmt as { 'ct helper': unknown })['ct helper'];
    return typeof n === 'string' && n !== '' ? null : '"ct helper" must be the name of a ct helper object';
  },
  validate(stmt, env) {
    const name = (stmt as { 'ct helper': string })['ct helper'];
    if (!env.findObject('ct helper', name)) env.errors.add(env.pos, `unknown ct helper '${name}' (declare it in the table: ct helper ${name} { type "ftp" protocol tcp; })`);
  },
  compile(stmt, env) {
    const name = (stmt as { 'ct helper': string })['ct helper'];
    const o = env.object('ct helper', name);
    if (!o) throw new Error(`unknown ct helper '${name}'`);
    return o.fn;
  },
};

export function registerCtHelper(r: Registry): void {
  r.registerStatement(ctHelperSetModule);
  r.registerMatch({
    name: 'ct helper',
    keywords: ['ct', 'helper'],
    left: { ct: { key: 'helper' } },
    type: CT_HELPER,
    families: ['ip', 'ip6', 'inet'],
    help: `the connection's helper (${CT_HELPER_NAMES.slice(1).join(', ')}); no match for a connection without one, or a packet without a conntrack entry`,
    load(ctx, out, off) {
      if ((ctx.ctState & CT_STATE_IN_CONNECTION) === 0 || ctx.ctHelper === CtHelperId.None) return false;
      out[off] = ctx.ctHelper;
      return true;
    },
  });
}
