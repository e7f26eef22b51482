/**
 * `flow add @f` (nft's older spelling `flow offload @f`): offloads the packet's connection
 * to flowtable f (flowtables.ts). In JSON as libnftables writes it:
 * `{"flow": {"op": "add", "flowtable": "@f"}}`.
 *
 * The statement only asks (ctx.flowOffload); the datapath decides after the forward hook
 * accepted the packet, as the kernel's nft_flow_offload_eval does: a confirmed connection,
 * TCP established and the packet no FIN or RST, or UDP; anything else stays on the slow path.
 * The kernel allows it in the forward hook only (nft_flow_offload_validate), so does this.
 */
import type { Stmt } from '../ast.js';
import type { Registry, StatementModule } from '../registry.js';
import { Tok } from '../lexer.js';

interface FlowJ {
  op: 'add';
  flowtable: string;
}

function body(stmt: Stmt): FlowJ {
  return (stmt as { flow: FlowJ }).flow;
}

const flowModule: StatementModule = {
  name: 'flow',
  keywords: ['flow'],
  jsonKeys: ['flow'],
  help: 'offload the connection to flowtable @NAME: its later packets on the flowtable devices skip the rules (forward chains only)',
  params: [{ name: 'flowtable', type: 'string', required: true, help: 'the flowtable, as @NAME' }],
  families: ['ip', 'ip6', 'inet'],
  parse(r, first) {
    const op = r.peek();
    if (!r.acceptWord('add') && !r.acceptWord('offload')) r.error(`expected 'add @FLOWTABLE' after 'flow' (flow add @f)`, op.kind === Tok.Word ? op : first);
    const at = r.peek();
    const name = at.kind === Tok.Word && at.text.startsWith('@') ? r.next().text.slice(1) : '';
    if (name === '') r.error('expected @FLOWTABLE (flow add @f)', at);
    return { flow: { op: 'add', flowtable: `@${name}` } };
  },
  print(stmt) {
    return `flow add ${body(stmt).flowtable}`;
  },
  checkJson(stmt) {
    const b = body(stmt) as unknown;
    if (b === null || typeof b !== 'object') return 'flow needs {"op": "add", "flowtable": "@NAME"}';
    const f = b as Record<string, unknown>;
    if (f.op !== 'add') return 'flow "op" must be "add"';
    if (typeof f.flowtable !== 'string' || !/^@[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(f.flowtable)) return 'flow "flowtable" must be "@NAME"';
    for (const k of Object.keys(f)) if (k !== 'op' && k !== 'flowtable') return `unknown flow field "${k}"`;
    return null;
  },
  validate(stmt, env) {
    const c = env.chain;
    // A regular chain is checked by the base chains that reach it (validate.ts offloadReach).
    if (c !== undefined && c.hook !== undefined && c.hook !== 'forward') {
      env.errors.add(env.pos, `flow add is only valid in a forward chain (the kernel's rule), not in chain '${c.name}' (hook ${c.hook})`);
      return;
    }
    const name = body(stmt).flowtable.slice(1);
    if (!env.findFlowtable(name)) env.errors.add(env.pos, `unknown flowtable '${name}' (declare it in the table: flowtable ${name} { hook ingress priority filter; devices = { ... }; })`);
  },
  compile(stmt, env) {
    const name = body(stmt).flowtable.slice(1);
    const ft = env.flowtable(name);
    if (!ft) throw new Error(`unknown flowtable '${name}'`);
    ft.bind(env.encode.ifnames);
    return (ctx) => {
      ctx.flowOffload = ft;
      return 0;
    };
  },
};

export function registerFlowOffload(r: Registry): void {
  r.registerStatement(flowModule);
}
