import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OutBatch } from '../../../wire/out-batch.js';
import { encodeRewrittenDataRow } from '../../../wire/postgres/backend-writer.js';
import { fieldMask } from '../../../proxy/mask.js';
import type { MaskDirective } from '../../../governance/decision.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import * as bw from '../../../wire/postgres/backend-writer.js';
import { parseErrorFields, tagRows } from '../../../wire/postgres/backend-parser.js';

// pg-protocol's client-side parser is the independent decoder.
function decode(buf: Buffer): any[] {
  const out: any[] = [];
  new Parser().parse(buf, (m) => out.push(m));
  return out;
}

test('backend: authentication messages', () => {
  const msgs = decode(Buffer.concat([
    bw.AUTHENTICATION_OK, bw.AUTHENTICATION_CLEARTEXT, bw.authenticationMd5(Buffer.from([1, 2, 3, 4])),
    bw.AUTHENTICATION_SASL_SCRAM, bw.authenticationSaslContinue('r=abc,s=c2FsdA==,i=4096'), bw.authenticationSaslFinal('v=xyz'),
  ]));
  assert.deepEqual(msgs.map((m) => m.name), [
    'authenticationOk', 'authenticationCleartextPassword', 'authenticationMD5Password',
    'authenticationSASL', 'authenticationSASLContinue', 'authenticationSASLFinal',
  ]);
  assert.deepEqual([...msgs[2].salt], [1, 2, 3, 4]);
  assert.deepEqual(msgs[3].mechanisms, ['SCRAM-SHA-256'], 'never SCRAM-SHA-256-PLUS');
  assert.equal(msgs[4].data, 'r=abc,s=c2FsdA==,i=4096');
  assert.equal(msgs[5].data, 'v=xyz');
});

test('backend: session messages byte for byte', () => {
  assert.deepEqual(bw.readyForQuery('T'), Buffer.from([0x5a, 0, 0, 0, 5, 0x54]));
  assert.deepEqual(bw.PARSE_COMPLETE, Buffer.from([0x31, 0, 0, 0, 4]));
  assert.deepEqual(bw.backendKeyData(7, -1), Buffer.from([0x4b, 0, 0, 0, 12, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff]));
  const msgs = decode(Buffer.concat([
    bw.parameterStatus('server_version', '15.0'), bw.backendKeyData(99, 12345), bw.readyForQuery('I'),
    bw.commandComplete('INSERT 0 3'), bw.EMPTY_QUERY_RESPONSE, bw.BIND_COMPLETE, bw.CLOSE_COMPLETE, bw.NO_DATA, bw.PORTAL_SUSPENDED,
    bw.rowDescription([{ name: 'n', typeOid: 25 }]), bw.dataRow(['é', null]), bw.readyForQuery('E'),
  ]));
  assert.deepEqual(msgs.map((m) => m.name), [
    'parameterStatus', 'backendKeyData', 'readyForQuery', 'commandComplete', 'emptyQuery', 'bindComplete',
    'closeComplete', 'noData', 'portalSuspended', 'rowDescription', 'dataRow', 'readyForQuery',
  ]);
  assert.equal(msgs[0].parameterValue, '15.0');
  assert.equal(msgs[1].secretKey, 12345);
  assert.equal(msgs[3].text, 'INSERT 0 3');
  assert.equal(msgs[9].fields[0].dataTypeID, 25);
  assert.deepEqual(msgs[10].fields, ['é', null]);
  assert.equal(msgs[11].status, 'E');
});

test('backend: ErrorResponse and NoticeResponse carry severity, SQLSTATE and message', () => {
  const [e, n] = decode(Buffer.concat([
    bw.errorResponse({ severity: 'FATAL', code: '28P01', message: 'password authentication failed', hint: 'h' }),
    bw.noticeResponse({ severity: 'NOTICE', code: '01000', message: 'rows cut' }),
  ]));
  assert.equal(e.name, 'error');
  assert.equal(e.severity, 'FATAL');
  assert.equal(e.code, '28P01');
  assert.equal(e.message, 'password authentication failed');
  assert.equal(e.hint, 'h');
  assert.equal(n.name, 'notice');
  assert.equal(n.code, '01000');
  const f = parseErrorFields(bw.errorResponse({ severity: 'ERROR', code: '42501', message: 'm', detail: 'd' }).subarray(5));
  assert.deepEqual([f.severity, f.code, f.message, f.detail], ['ERROR', '42501', 'm', 'd']);
});

test('backend: completion tags to row counts', () => {
  assert.deepEqual(tagRows('INSERT 0 5'), { command: 'INSERT', rows: 5 });
  assert.deepEqual(tagRows('SELECT 12'), { command: 'SELECT', rows: 12 });
  assert.deepEqual(tagRows('COPY 3'), { command: 'COPY', rows: 3 });
  assert.deepEqual(tagRows('CREATE TABLE'), { command: 'CREATE TABLE', rows: undefined });
});

test('backend: masked columns re-described as text, DataRow fields rewritten, others untouched', () => {
  const desc = bw.rowDescription([{ name: 'id', typeOid: 23, typeSize: 4 }, { name: 'phone', typeOid: 1043 }, { name: 'n', typeOid: 1700 }]);
  const [d] = decode(bw.rewriteRowDescription(desc.subarray(5), new Set([1, 2])));
  assert.deepEqual(d.fields.map((f: any) => [f.name, f.dataTypeID, f.dataTypeSize, f.dataTypeModifier]), [['id', 23, 4, -1], ['phone', 25, -1, -1], ['n', 25, -1, -1]]);
  const row = bw.dataRow(['1', '13812345678', null]);
  const [r] = decode(bw.rewriteDataRow(row.subarray(5), new Map([[1, (t: string | null) => t && t.slice(0, 3) + '****'], [2, () => 'x']])));
  assert.deepEqual(r.fields, ['1', '138****', 'x']);
});

test('property: rows rewritten into a shared batch equal rows built field by field, in order with pass-through bytes', () => {
  const field = fc.oneof(fc.constant(null), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 20 }));
  // The policy's own partial masks carry the ASCII in-place path.
  const partial = (keepFirst: number, keepLast: number, maskChar: string) =>
    fieldMask({ kind: 'partial', keepFirst, keepLast, maskChar } as MaskDirective, Buffer.alloc(32));
  const rewrite = fc.oneof(
    fc.constant(undefined),
    fc.constant(partial(3, 4, '*')), fc.constant(partial(0, 1, '#')), fc.constant(partial(2, 0, '＊')),
    fc.constant((t: string | null) => (t === null ? null : '＊'.repeat([...t].length))),
    fc.constant(() => null),
    fc.constant((t: string | null) => (t === null ? 'was null' : '')),
  );
  fc.assert(fc.property(fc.array(fc.tuple(fc.array(field, { maxLength: 12 }), fc.array(rewrite, { maxLength: 12 })), { minLength: 1, maxLength: 30 }), (rows) => {
    const out = new OutBatch();
    const expected: Buffer[] = [];
    for (const [values, rewrites] of rows) {
      const body = bw.dataRow(values).subarray(5);
      encodeRewrittenDataRow(out, body, rewrites);
      expected.push(bw.dataRow(values.map((v, i) => (rewrites[i] ? rewrites[i]!(v) : v))));
      // pass-through bytes between rewritten rows keep their place
      const plain = bw.commandComplete('SELECT 1');
      out.push(plain);
      expected.push(plain);
    }
    assert.deepEqual(Buffer.concat(out.take()), Buffer.concat(expected));
    assert.equal(out.empty, true);
  }), { numRuns: 300 });
});
