/**
 * Generators of benchmark rulesets in nft syntax, so the same text is loaded by `nft -f`
 * and by hafw.
 */

/** A base chain jumping into `chains` regular chains of `rulesPerChain` rules each. */
export function chainsRuleset(chains: number, rulesPerChain: number): string {
  const out: string[] = ['table inet bench {'];
  for (let c = 0; c < chains; c++) {
    out.push(`  chain c${c} {`);
    for (let r = 0; r < rulesPerChain; r++) {
      const port = 1024 + ((c * rulesPerChain + r) % 60000);
      out.push(`    ip saddr 198.51.100.${(r % 250) + 1} tcp dport ${port} counter accept`);
    }
    out.push('  }');
  }
  out.push('  chain forward {', '    type filter hook forward priority 0; policy drop;');
  for (let c = 0; c < chains; c++) out.push(`    ip daddr 192.0.2.${(c % 250) + 1} tcp sport ${1024 + c} jump c${c}`);
  out.push('  }', '}');
  return out.join('\n') + '\n';
}

/** One base chain of `rules` linear rules matching distinct source addresses. */
export function linearRuleset(rules: number): string {
  const out: string[] = ['table inet lin {', '  chain forward {', '    type filter hook forward priority 0; policy accept;'];
  for (let i = 0; i < rules; i++) out.push(`    ip saddr ${ipOf(i)} drop`);
  out.push('  }', '}');
  return out.join('\n') + '\n';
}

/** The same match as linearRuleset, as one rule over a named set of `elements` addresses. */
export function setRuleset(elements: number): string {
  const els: string[] = [];
  for (let i = 0; i < elements; i++) els.push(ipOf(i));
  return [
    'table inet st {',
    '  set blocked {',
    '    type ipv4_addr',
    `    elements = { ${els.join(', ')} }`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    '    ip saddr @blocked drop',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Distinct addresses in 198.18.0.0/15 (benchmark range, never routed here). */
export function ipOf(i: number): string {
  return `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`;
}
