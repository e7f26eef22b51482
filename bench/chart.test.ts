import assert from 'node:assert/strict';
import { barsOf, chartSvg } from './chart.js';
import { withTwinRatios } from './datapath-throughput.js';
import type { BenchResult } from './report.js';

const row = (name: string, value: number): BenchResult => ({ name, value, unit: 'x' });

describe('bench: ratios to the kernel firewall and their chart', () => {
  const rows = withTwinRatios([row('tcp-bulk/kernel', 10), row('tcp-bulk/kernel-nft', 8), row('tcp-bulk/c-echo', 4), row('tcp-bulk/hafw', 2), row('rtt-p50/kernel-nft', 20), row('rtt-p50/hafw', 100), row('udp-64B/hafw', 5)]);
  const by = (n: string): BenchResult => rows.find((r) => r.name === n)!;

  it('compares hafw and c-echo with kernel-nft, kernel-nft with kernel, and leaves a row without its twin alone', () => {
    assert.deepEqual([by('tcp-bulk/hafw').baseline, by('tcp-bulk/hafw').ratio], ['tcp-bulk/kernel-nft', 0.25]);
    assert.deepEqual([by('tcp-bulk/c-echo').baseline, by('tcp-bulk/c-echo').ratio], ['tcp-bulk/kernel-nft', 0.5]);
    assert.deepEqual([by('tcp-bulk/kernel-nft').baseline, by('tcp-bulk/kernel-nft').ratio], ['tcp-bulk/kernel', 0.8]);
    assert.equal(by('rtt-p50/hafw').ratio, 5);
    assert.equal(by('tcp-bulk/kernel').baseline, undefined);
    assert.equal(by('udp-64B/hafw').baseline, undefined);
  });

  it('charts the rows against kernel-nft or nft, a probe\'s rows together, targets on hafw rows only', () => {
    const apply = { name: 'ruleset-apply-10k/hafw', value: 1000, unit: 'ms', baseline: 'ruleset-apply-10k/nft', ratio: 3 };
    const flat = { name: 'ruleset-add-1/hafw-api-10k', value: 2, unit: 'ms', baseline: 'ruleset-add-1/hafw-api-1k', ratio: 2 };
    const bars = barsOf([...rows, apply, flat]);
    assert.deepEqual(bars.map((b) => b.label), ['tcp-bulk/c-echo', 'tcp-bulk/hafw', 'rtt-p50/hafw', 'ruleset-apply-10k/hafw']);
    assert.deepEqual(bars.map((b) => b.target), [undefined, 0.7, undefined, 0.25]);
    assert.deepEqual(bars.map((b) => b.lowerIsBetter), [false, false, true, true]);
    const svg = chartSvg(bars, 'a <title>');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /a &lt;title&gt;/);
    assert.match(svg, /^<svg [^>]*>\n<title>a &lt;title&gt;<\/title>\n/, 'the title element names the chart');
    for (const label of ['>0.50x<', '>5.00x<', '>3.00x<']) assert.ok(svg.includes(label), label);
    // One bar a row, plus the two legend swatches.
    assert.equal((svg.match(/<rect x=/g) ?? []).length, bars.length + 2);
  });
});

describe('bench: rounds of the datapath bench', () => {
  it('reports per row the median round with its note and the spread', async () => {
    const { medianOfRounds } = await import('./datapath-throughput.js');
    const round = (v: number): BenchResult[] => [{ name: 'tcp-bulk/hafw', value: v, unit: 'Gbit/s', note: `run ${v}` }];
    const [r] = medianOfRounds([round(3), round(1), round(2)]);
    assert.equal(r!.value, 2);
    assert.equal(r!.note, 'median of 3 rounds (1-3); run 2');
    assert.deepEqual(medianOfRounds([round(5)]), round(5));
  });
});
