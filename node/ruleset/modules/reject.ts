/**
 * `reject [with tcp reset | with icmp TYPE | with icmpv6 TYPE | with icmpx TYPE]`:
 * drops the packet and asks the datapath (ctx.reject / ctx.rejectCode) to answer with a
 * TCP RST (RFC 9293 section 3.10.7.1) or a destination unreachable (RFC 792 codes,
 * RFC 4443 section 3.1 codes, or nft's family-independent icmpx codes). Plain `reject`
 * answers port-unreachable in the packet's family, as nft does. A `tcp reset` does not
 * apply to a non-TCP packet, nor `icmp` to IPv6 or `icmpv6` to IPv4: the rule does not
 * match it and evaluation goes on, because nft compiles these statements with a hidden
 * dependency (`meta l4proto tcp`, `meta nfproto ipv4|ipv6`) in front of them, and
 * `nft list ruleset` does not show the nfproto one (found by the nftables differential lab
 * test: an inet rule `reject with icmp ...` let IPv6 packets through in the kernel).
 */
import type { Registry, StatementModule } from '../registry.js';
import { RejectKind } from '../context.js';

const ICMP_CODES: Record<string, number> = {
  'net-unreachable': 0, 'host-unreachable': 1, 'prot-unreachable': 2, 'port-unreachable': 3,
  'net-prohibited': 9, 'host-prohibited': 10, 'admin-prohibited': 13,
};
const ICMPV6_CODES: Record<string, number> = {
  'no-route': 0, 'admin-prohibited': 1, 'addr-unreachable': 3, 'port-unreachable': 4,
  'policy-fail': 5, 'reject-route': 6,
};
const ICMPX_CODES: Record<string, number> = {
  'no-route': 0, 'port-unreachable': 1, 'host-unreachable': 2, 'admin-prohibited': 3,
};
const CODES: Record<string, Record<string, number>> = { icmp: ICMP_CODES, icmpv6: ICMPV6_CODES, icmpx: ICMPX_CODES };

interface RejectJ {
  type: 'tcp reset' | 'icmp' | 'icmpv6' | 'icmpx';
  expr?: string;
}

const rejectModule: StatementModule = {
  name: 'reject',
  keywords: ['reject'],
  jsonKeys: ['reject'],
  help: 'drop the packet and answer it with a TCP reset or an ICMP/ICMPv6 destination unreachable',
  params: [
    { name: 'type', type: 'tcp reset|icmp|icmpv6|icmpx', help: 'kind of answer (default: port-unreachable of the family)' },
    { name: 'expr', type: 'string', help: 'unreachable code name, e.g. port-unreachable, admin-prohibited' },
  ],
  families: ['ip', 'ip6', 'inet'],
  terminal: true,
  parse(r) {
    if (!r.acceptWord('with')) return { reject: null };
    const t = r.expectWord();
    if (t.text === 'tcp') {
      r.expectWord('reset');
      return { reject: { type: 'tcp reset' } };
    }
    const codes = CODES[t.text];
    if (!codes) r.error(`expected tcp reset, icmp, icmpv6 or icmpx after 'with', got '${t.text}'`, t);
    r.acceptWord('type');
    const c = r.expectWord();
    if (!(c.text in codes)) r.error(`unknown ${t.text} reject code '${c.text}' (${Object.keys(codes).join(', ')})`, c);
    return { reject: { type: t.text, expr: c.text } };
  },
  print(stmt) {
    const j = (stmt as { reject: RejectJ | null }).reject;
    if (!j) return 'reject';
    if (j.type === 'tcp reset') return 'reject with tcp reset';
    return `reject with ${j.type} ${j.expr ?? 'port-unreachable'}`;
  },
  checkJson(stmt) {
    const j = (stmt as { reject: RejectJ | null }).reject;
    if (j === null) return null;
    if (typeof j !== 'object') return 'reject must be null or {type, expr}';
    if (j.type === 'tcp reset') return null;
    const codes = CODES[j.type];
    if (!codes) return `reject type must be 'tcp reset', 'icmp', 'icmpv6' or 'icmpx'`;
    if (j.expr !== undefined && !(j.expr in codes)) return `unknown ${j.type} reject code '${j.expr}'`;
    return null;
  },
  validate(stmt, env) {
    const j = (stmt as { reject: RejectJ | null }).reject;
    if (j?.type === 'icmp' && env.family === 'ip6') env.errors.add(env.pos, 'reject with icmp is not possible in an ip6 table (use icmpv6 or icmpx)');
    if (j?.type === 'icmpv6' && env.family === 'ip') env.errors.add(env.pos, 'reject with icmpv6 is not possible in an ip table (use icmp or icmpx)');
  },
  compile(stmt) {
    const j = (stmt as { reject: RejectJ | null }).reject;
    if (j?.type === 'tcp reset') {
      return (ctx) => {
        if (ctx.pkt.l4proto !== 6) return 5; // Code.Break: nft's `meta l4proto tcp` dependency
        if (ctx.pkt.l4Valid) ctx.reject = RejectKind.TcpReset;
        return 2; // Code.Drop
      };
    }
    if (!j) {
      return (ctx) => {
        const f = ctx.pkt.family;
        if (f === 4) {
          ctx.reject = RejectKind.Icmp;
          ctx.rejectCode = ICMP_CODES['port-unreachable'];
        } else if (f === 6) {
          ctx.reject = RejectKind.Icmpv6;
          ctx.rejectCode = ICMPV6_CODES['port-unreachable'];
        }
        return 2;
      };
    }
    const code = CODES[j.type][j.expr ?? 'port-unreachable'];
    const kind = j.type === 'icmp' ? RejectKind.Icmp : j.type === 'icmpv6' ? RejectKind.Icmpv6 : RejectKind.Icmpx;
    const fam = j.type === 'icmp' ? 4 : j.type === 'icmpv6' ? 6 : 0;
    return (ctx) => {
      // nft's hidden `meta nfproto` dependency: the rule does not match the other family.
      if (fam !== 0 && ctx.pkt.family !== fam) return 5; // Code.Break
      ctx.reject = kind;
      ctx.rejectCode = code;
      return 2;
    };
  },
};

export function registerReject(r: Registry): void {
  r.registerStatement(rejectModule);
}
