/** `notrack`: the packet is not tracked; the datapath skips conntrack for it (ctx.notrack). */
import type { Registry, StatementModule } from '../registry.js';

const notrackModule: StatementModule = {
  name: 'notrack',
  keywords: ['notrack'],
  jsonKeys: ['notrack'],
  help: 'do not create or update a conntrack entry for this packet (ct state becomes untracked)',
  params: [],
  families: ['ip', 'ip6', 'inet'],
  parse() {
    return { notrack: null };
  },
  print() {
    return 'notrack';
  },
  checkJson(stmt) {
    return (stmt as { notrack: unknown }).notrack === null ? null : 'notrack takes no arguments (null)';
  },
  compile() {
    return (ctx) => {
      ctx.notrack = true;
      return 0;
    };
  },
};

export function registerNotrack(r: Registry): void {
  r.registerStatement(notrackModule);
}
