import assert from 'node:assert/strict';
import { parseConfigText } from './config.js';
import { ConfigError } from './config-reader.js';

describe('node config', () => {
  it('fills defaults for everything but the node name', () => {
    const c = parseConfigText('node:\n  name: fwa\n');
    assert.equal(c.node.name, 'fwa');
    assert.equal(c.datapath.tun, 'hafw0');
    assert.deepEqual(c.datapath.interfaces, ['lan', 'wan']);
    assert.equal(c.datapath.offloads, true);
    assert.equal(c.datapath.failClosed, true);
  });

  it('names the path and line of a bad value', () => {
    const text = 'node:\n  name: fwa\ndatapath:\n  batchSize: 0\n';
    assert.throws(() => parseConfigText(text, 'x.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.path, 'datapath.batchSize');
      assert.equal(err.line, 4);
      assert.match(err.message, /^x\.yaml:4: datapath\.batchSize: expected an integer from 1 to 1024, got 0$/);
      return true;
    });
  });

  it('rejects unknown settings instead of ignoring a typo', () => {
    assert.throws(() => parseConfigText('node:\n  name: fwa\ndatapath:\n  tunn: x\n'), /datapath\.tunn: unknown setting/);
  });

  it('names the index of a bad list element', () => {
    assert.throws(
      () => parseConfigText('node: {name: a}\ndatapath:\n  interfaces: [lan, "bad name!"]\n'),
      /datapath\.interfaces\[1\]: expected an interface name/,
    );
  });

  it('reports YAML syntax errors with their line', () => {
    assert.throws(() => parseConfigText('node:\n  name: [\n', 'y.yaml'), /^Error: y\.yaml:\d+: \(top level\): YAML syntax/);
  });

  it('requires the node name', () => {
    assert.throws(() => parseConfigText('datapath: {}\n'), /node\.name: required/);
  });
});
