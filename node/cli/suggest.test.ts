import assert from 'node:assert/strict';
import { distance, nearest } from './suggest.js';

describe('did you mean', () => {
  const COMMANDS = ['node', 'status', 'metrics', 'ruleset', 'schema', 'monitor', 'ct', 'sync', 'replay', 'lab', 'drill', 'version', 'demo'];

  it('counts a swapped pair of letters as one edit', () => {
    assert.equal(distance('stauts', 'status'), 1);
    assert.equal(distance('chekc', 'check'), 1);
    assert.equal(distance('', 'ab'), 2);
    assert.equal(distance('ruleset', 'ruleset'), 0);
  });

  it('suggests the command meant for a typo or a unique beginning, and nothing for a guess', () => {
    assert.equal(nearest('stauts', COMMANDS), 'status');
    assert.equal(nearest('rulset', COMMANDS), 'ruleset');
    assert.equal(nearest('metircs', COMMANDS), 'metrics');
    assert.equal(nearest('st', COMMANDS), 'status', 'the one command beginning with st');
    assert.equal(nearest('s', COMMANDS), undefined, 'begins status, schema and sync');
    assert.equal(nearest('frobnicate', COMMANDS), undefined);
    assert.equal(nearest('xy', COMMANDS), undefined, 'two letters: no edits allowed');
    assert.equal(nearest('status', COMMANDS), undefined, 'the word itself is not a suggestion');
    assert.equal(nearest('--jsno', ['--json', '--socket', '--help']), '--json');
  });
});
