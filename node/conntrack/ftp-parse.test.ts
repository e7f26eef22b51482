import assert from 'node:assert/strict';
import { Rng } from '../../inet/index.js';
import { FTP_LINE_MAX, FtpAnnounce, FtpKind, parseFtpLine, scanFtpPayload } from './ftp-parse.js';

const enc = new TextEncoder();

function parse(line: string, fromClient: boolean): { kind: FtpKind; family: number; addr: string; port: number; text: string } | null {
  const b = enc.encode(line);
  const a = new FtpAnnounce();
  if (!parseFtpLine(b, 0, b.length, fromClient, a)) return null;
  const addr = a.family === 4 ? [...a.addr.subarray(0, 4)].join('.') : a.family === 6 ? Buffer.from(a.addr).toString('hex') : '';
  return { kind: a.kind, family: a.family, addr, port: a.port, text: line.slice(a.textOff, a.textOff + a.textLen) };
}

describe('FTP control channel grammar (ftp-parse)', () => {
  it('reads PORT, EPRT (IPv4 and IPv6), 227 and 229, case-insensitively, with where the address text is', () => {
    assert.deepEqual(parse('PORT 192,0,2,100,4,1', true), { kind: FtpKind.Port, family: 4, addr: '192.0.2.100', port: 1025, text: '192,0,2,100,4,1' });
    assert.deepEqual(parse('port 192,0,2,100,255,255', true), { kind: FtpKind.Port, family: 4, addr: '192.0.2.100', port: 65535, text: '192,0,2,100,255,255' });
    assert.deepEqual(parse('EPRT |1|192.0.2.7|6275|', true), { kind: FtpKind.Eprt, family: 4, addr: '192.0.2.7', port: 6275, text: '|1|192.0.2.7|6275|' });
    assert.deepEqual(parse('EPRT |2|2001:db8::1|5282|', true)?.addr, '20010db8000000000000000000000001');
    assert.deepEqual(parse('EPRT !2!2001:db8:0:1:2:3:4:5!21!', true)?.addr, '20010db8000000010002000300040005');
    assert.deepEqual(parse('EPRT |2|::ffff:192.0.2.1|21|', true)?.addr, '00000000000000000000ffffc0000201');
    assert.deepEqual(parse('EPRT |2|2001:db8::|21|', true)?.addr, '20010db8000000000000000000000000');
    assert.deepEqual(parse('227 Entering Passive Mode (198,51,100,100,195,80).', false), { kind: FtpKind.Pasv, family: 4, addr: '198.51.100.100', port: 50000, text: '198,51,100,100,195,80' });
    assert.deepEqual(parse('229 Entering Extended Passive Mode (|||50001|)', false), { kind: FtpKind.Epsv, family: 0, addr: '', port: 50001, text: '|||50001|' });
  });

  it('looks for commands in the client direction and replies in the server direction only', () => {
    assert.equal(parse('PORT 192,0,2,100,4,1', false), null);
    assert.equal(parse('227 Entering Passive Mode (198,51,100,100,195,80)', true), null);
    assert.equal(parse('RETR PORT 192,0,2,100,4,1', true), null);
  });

  it('refuses malformed announcements', () => {
    for (const bad of [
      'PORT 192,0,2,100,4', 'PORT 192,0,2,256,4,1', 'PORT 192,0,2,100,4,1000', 'PORT 0192,0,2,100,4,1', 'PORT ,,,,,', 'PORT',
      'PORT 192.0.2.100,4,1', 'EPRT |3|192.0.2.1|21|', 'EPRT |1|192.0.2.1|65536|', 'EPRT |1|192.0.2|21|', 'EPRT |1|192.0.2.1.1|21|',
      'EPRT 1|192.0.2.1|21|', 'EPRT |1|192.0.2.1|21', 'EPRT |2|2001:db8:::1|21|', 'EPRT |2|1:2:3:4:5:6:7:8:9|21|', 'EPRT |2|:1::|21|',
      'EPRT |2|12345::|21|', 'EPRT |2|g::|21|', 'EPRT |2|1::2::3|21|', 'EPRT |2|1:|21|', 'EPRT |2|1:2:3:4:5:6:7|21|',
    ]) assert.equal(parse(bad, true), null, bad);
    for (const bad of ['227 Entering Passive Mode 198,51,100,100,195,80', '227 (198,51,100,100,195)', '229 (||50001|)', '229 (|||70000|)', '229 (|||50001', '229 (111501|)', '227 (99999999999999999999,1,1,1,1,1)']) {
      assert.equal(parse(bad, false), null, bad);
    }
    assert.equal(parse(`PORT 192,0,2,100,4,1${' '.repeat(FTP_LINE_MAX)}`, true), null, 'a line past the limit is not read');
  });

  it('scans the complete lines of a payload, CRLF or LF, and says where the unfinished one starts', () => {
    const b = enc.encode('USER x\r\nPORT 192,0,2,100,4,1\r\nLIST\nEPRT |1|192.0.2.100|1026|\r\nPORT 192,0,2,100,4,3');
    const got: number[] = [];
    const n = scanFtpPayload(b, 0, b.length, true, new FtpAnnounce(), (a) => got.push(a.port));
    assert.deepEqual(got, [1025, 1026]);
    assert.equal(n, b.length - 'PORT 192,0,2,100,4,3'.length);
  });

  it('random and mutated bytes never throw, and what they announce stays inside the buffer', () => {
    const r = new Rng(18);
    const a = new FtpAnnounce();
    const seeds = ['PORT 192,0,2,100,4,1\r\n', 'EPRT |2|2001:db8::1|5282|\r\n', '227 Entering Passive Mode (198,51,100,100,195,80)\r\n', '229 Entering Extended Passive Mode (|||50001|)\r\n'].map((s) => enc.encode(s));
    let announced = 0;
    for (let i = 0; i < 20000; i++) {
      let b: Uint8Array;
      if (i % 2 === 0) {
        b = new Uint8Array(r.int(600));
        for (let k = 0; k < b.length; k++) b[k] = r.int(4) === 0 ? [10, 13, 44, 124, 58, 46, 40, 32][r.int(8)]! : r.int(256);
      } else {
        b = Uint8Array.from(seeds[r.int(seeds.length)]!);
        for (let m = r.int(4); m >= 0; m--) b[r.int(b.length)] = r.int(256);
      }
      for (const fromClient of [true, false]) {
        scanFtpPayload(b, 0, b.length, fromClient, a, (x) => {
          announced++;
          assert.ok(x.port >= 0 && x.port <= 65535);
          assert.ok(x.textOff >= 0 && x.textOff + x.textLen <= b.length);
        });
      }
    }
    assert.ok(announced > 0, 'some mutated announcements still parse');
  });
});
