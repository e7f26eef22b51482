import assert from 'node:assert/strict';
import { canonicalize, hashText } from './canonical.js';

const A = `table inet filter {
\tset block {
\t\ttype ipv4_addr
\t\telements = { 192.0.2.9, 192.0.2.1,
\t\t\t     192.0.2.5 expires 3s }
\t}
}
`;
const B = `table inet filter {
\tset block {
\t\ttype ipv4_addr
\t\telements = { 192.0.2.1, 192.0.2.5 expires 59s,   
\t\t\t     192.0.2.9 }
\t}
}`;

describe('ruleset-dist canonical form', () => {
  it('gives the same text and hash for the same rules with set elements in another order and other expiry', () => {
    assert.equal(canonicalize(A), canonicalize(B));
    assert.equal(hashText(canonicalize(A)), hashText(canonicalize(B)));
    assert.match(canonicalize(A), /elements = \{ 192\.0\.2\.1, 192\.0\.2\.5, 192\.0\.2\.9 \}/);
  });

  it('keeps different rules different', () => {
    assert.notEqual(hashText(canonicalize(A)), hashText(canonicalize(A.replace('192.0.2.9', '192.0.2.8'))));
  });

  it('hashes as SHA-256 hex', () => {
    assert.equal(hashText(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
