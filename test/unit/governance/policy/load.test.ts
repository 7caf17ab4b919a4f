import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyError, formatIssue, loadPolicyFile, parsePolicy, parseListen, type PolicyIssue } from '../../../../governance/policy/load.js';

const MN = '"*DA9989B6DF027D1BFCDC92D61A8263D83E53EC39"';

/** A small valid policy; tests replace one line to break one field. Line numbers matter. */
const BASE = [
  /* 1 */ 'version: 1',
  /* 2 */ 'listeners:',
  /* 3 */ '  - protocol: mysql',
  /* 4 */ '    listen: 127.0.0.1:6033',
  /* 5 */ '    instance: m1',
  /* 6 */ '  - protocol: http',
  /* 7 */ '    listen: 127.0.0.1:8080',
  /* 8 */ 'ip_allow: [127.0.0.1, "::1"]',
  /* 9 */ 'instances:',
  /* 10 */ '  m1:',
  /* 11 */ '    protocol: mysql',
  /* 12 */ '    port: 3306',
  /* 13 */ '    user: root',
  /* 14 */ '  p1:',
  /* 15 */ '    protocol: postgres',
  /* 16 */ '    port: 5432',
  /* 17 */ '    user: postgres',
  /* 18 */ 'users:',
  /* 19 */ '  alice:',
  /* 20 */ '    roles: [analyst]',
  /* 21 */ '    clearance: 1',
  /* 22 */ '    password:',
  /* 23 */ `      mysql_native: ${MN}`,
  /* 24 */ '    ip_allow:',
  /* 25 */ '      - 10.0.0.1',
  /* 26 */ '      - 10.0.0.0/8',
  /* 27 */ 'roles:',
  /* 28 */ '  analyst:',
  /* 29 */ '    grants:',
  /* 30 */ '      - instance: m1',
  /* 31 */ '        table: t',
  /* 32 */ '        privileges: [select]',
  /* 33 */ '  boss:',
  /* 34 */ '    approver: true',
  /* 35 */ 'labels:',
  /* 36 */ '  - { table: t, column: c, level: 2 }',
  /* 37 */ 'masking:',
  /* 38 */ '  - { table: t, column: c, kind: partial, roles: [analyst] }',
  /* 39 */ 'approvals:',
  /* 40 */ '  - name: ddl',
  /* 41 */ '    when: { change_types: [ddl] }',
  /* 42 */ '    stages:',
  /* 43 */ '      - roles: [boss]',
];

function variant(line: number, text: string | null, extra: string[] = []): string {
  const lines = [...BASE];
  if (text === null) lines.splice(line - 1, 1);
  else lines[line - 1] = text;
  return [...lines, ...extra].join('\n') + '\n';
}

function issuesOf(text: string): PolicyIssue[] {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    assert.equal(e.code, 'POLICY_INVALID');
    return [...e.issues];
  }
  assert.fail('expected the policy to be refused');
}

/** Exactly one issue, on this line, whose path and message match. */
function one(text: string, line: number, path: string, message: RegExp, column?: number): PolicyIssue {
  const issues = issuesOf(text);
  assert.equal(issues.length, 1, issues.map(formatIssue).join('\n'));
  const [i] = issues;
  assert.equal(i.file, 'p.yaml');
  assert.equal(i.line, line, formatIssue(i));
  assert.equal(i.path, path, formatIssue(i));
  assert.match(i.message, message);
  if (column !== undefined) assert.equal(i.column, column, formatIssue(i));
  return i;
}

test('the base policy is valid and defaults are filled in', () => {
  const p = parsePolicy(variant(1, 'version: 1'), 'p.yaml');
  assert.equal(p.instances.m1.host, '127.0.0.1');
  assert.equal(p.instances.m1.environment, 'dev');
  assert.equal(p.users.alice.clearance, 1);
  assert.equal(p.roles.analyst.grants[0].database, '*');
  assert.equal(p.audit.file, '.sqlgate/audit.jsonl');
  assert.ok(Object.isFrozen(p.users.alice.roles), 'policy is deeply frozen');
});

test('the shipped sample policy validates', () => {
  const p = loadPolicyFile(new URL('../../../../../rules/sample-policy.yaml', import.meta.url).pathname);
  assert.deepEqual(Object.keys(p.users).sort(), ['alice', 'bob', 'carol']);
  assert.deepEqual(Object.keys(p.instances).sort(), ['demo_mysql', 'demo_pg']);
  assert.equal(p.instances.demo_mysql.label_security, true);
  assert.equal(p.users.bob.trusted, true);
  assert.equal(p.listeners.length, 3);
});

test('wrong type names line and path', () => {
  const i = one(variant(12, '    port: "3306"'), 12, 'instances.m1.port', /expected number/, 11);
  assert.equal(formatIssue(i), `p.yaml:12:11: instances.m1.port: ${i.message}`);
});

test('out-of-range number', () => {
  one(variant(21, '    clearance: 4'), 21, 'users.alice.clearance', /4|<=3|too big/i);
  one(variant(12, '    port: 70000'), 12, 'instances.m1.port', /.+/);
});

test('bad enum value', () => {
  one(variant(11, '    protocol: oracle'), 11, 'instances.m1.protocol', /.+/);
  one(variant(32, '        privileges: [select, drop]'), 32, 'roles.analyst.grants[0].privileges[1]', /.+/);
});

test('unknown field points at its key', () => {
  one(variant(13, '    user: root\n    usr: root'), 14, 'instances.m1.usr', /unknown field 'usr'/);
  one(variant(36, '  - { table: t, column: c, level: 2, colour: red }'), 36, 'labels[0].colour', /unknown field/);
});

test('missing required field points at the enclosing object', () => {
  one(variant(12, null), 10, 'instances.m1.port', /required field is missing/);
});

test('bad verifier format', () => {
  one(variant(23, '      mysql_native: "*nothex"'), 23, 'users.alice.password.mysql_native', /.+/);
  one(variant(23, '      md5: "md5xyz"'), 23, 'users.alice.password.md5', /.+/);
});

test('user without any verifier', () => {
  const lines = [...BASE];
  lines.splice(21, 2, '    password: {}');
  one(lines.join('\n'), 22, 'users.alice.password', /at least one verifier/);
});

test('null value points at the key', () => {
  one(variant(21, '    clearance:'), 21, 'users.alice.clearance', /.+/);
});

test('user role that is not defined', () => {
  one(variant(20, '    roles: [analyst, ghost]'), 20, 'users.alice.roles[1]', /role 'ghost' is not defined/, 22);
});

test('listener instance that is not defined', () => {
  one(variant(5, '    instance: nope'), 5, 'listeners[0].instance', /instance 'nope' is not defined/);
});

test('listener protocol does not match the instance', () => {
  one(variant(5, '    instance: p1'), 5, 'listeners[0].instance', /speaks postgres, not mysql/);
});

test('database listener without instance, http listener with one', () => {
  one(variant(5, null), 3, 'listeners[0]', /needs 'instance'/);
  one(variant(7, '    listen: 127.0.0.1:8080', ['']).replace('    listen: 127.0.0.1:8080\n', '    listen: 127.0.0.1:8080\n    instance: m1\n'),
    8, 'listeners[1].instance', /http listener/);
});

test('bad listen address and duplicate listen address', () => {
  one(variant(4, '    listen: localhost'), 4, 'listeners[0].listen', /not host:port/);
  one(variant(7, '    listen: 127.0.0.1:6033'), 7, 'listeners[1].listen', /already used/);
});

test('approval stage role that is not defined', () => {
  one(variant(43, '      - roles: [boss, nobody]'), 43, 'approvals[0].stages[0].roles[1]', /role 'nobody'/);
});

test('masking role and grant instance that are not defined', () => {
  one(variant(38, '  - { table: t, column: c, kind: partial, roles: [ghost] }'), 38, 'masking[0].roles[0]', /role 'ghost'/);
  one(variant(30, '      - instance: m9'), 30, 'roles.analyst.grants[0].instance', /instance 'm9'/);
});

test('bad ip_allow entry in a YAML list points at the entry line', () => {
  one(variant(26, '      - 10.0.0.0/33'), 26, 'users.alice.ip_allow[1]', /entry 2 '10.0.0.0\/33'.*prefix length/);
});

test('bad ip_allow entry in a comma string points at the entry column', () => {
  const i = one(variant(8, 'ip_allow: 127.0.0.1, 10.0.0.9-10.0.0.1, ::1'), 8, 'ip_allow', /above its end/);
  assert.equal(i.column, 22);
});

test('bad ip_allow entry in an instance list and in trusted_proxies', () => {
  one(variant(13, '    user: root', ['']).replace('    user: root\n  p1', '    user: root\n    ip_allow: [1.2.3.4, "::ffff:1.2.3.400"]\n  p1'),
    14, 'instances.m1.ip_allow[1]', /not an IPv4 or IPv6/);
  one(variant(5, '    instance: m1', ['']).replace('    instance: m1\n', '    instance: m1\n    trusted_proxies:\n      - 10.0.0.1\n      - bogus\n'),
    8, 'listeners[0].trusted_proxies[1]', /bogus/);
});

test('allow-list entry errors are reported together with schema errors', () => {
  const text = variant(26, '      - 10.0.0.0/33').replace('    clearance: 1', '    clearance: 9');
  const issues = issuesOf(text);
  assert.deepEqual(issues.map((i) => [i.line, i.path]), [[21, 'users.alice.clearance'], [26, 'users.alice.ip_allow[1]']]);
});

test('an allow list of the wrong shape says what is expected', () => {
  one(variant(8, 'ip_allow: 5'), 8, 'ip_allow', /comma-separated string or a YAML list/);
});

test('a comma inside a YAML list item is explained', () => {
  one(variant(26, '      - 10.0.0.2, 10.0.0.3'), 26, 'users.alice.ip_allow[1]', /one entry per list item/);
});

test('more than 1,000 ip_allow entries', () => {
  const many = Array.from({ length: 1001 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ');
  const issues = issuesOf(variant(8, `ip_allow: [${many}]`));
  assert.equal(issues[0].line, 8);
  assert.equal(issues[0].path, 'ip_allow');
});

test('YAML syntax error with its line', () => {
  const issues = issuesOf(variant(31, '        table: [t'));
  assert.ok(issues.length >= 1);
  assert.match(issues[0].message, /^YAML: /);
  assert.ok(issues[0].line >= 31, formatIssue(issues[0]));
  const tab = issuesOf(variant(21, '\tclearance: 1'));
  assert.ok(tab[0].line === 21 || tab[0].line === 20, formatIssue(tab[0]));
});

test('duplicate key is refused with its line', () => {
  const [i] = issuesOf(variant(21, '    roles: [analyst]'));
  assert.equal(i.line, 21);
  assert.match(i.message, /unique/);
});

test('several problems are all reported, in file order', () => {
  const text = variant(12, '    port: x').replace('    clearance: 1', '    clearance: 9');
  const issues = issuesOf(text);
  assert.deepEqual(issues.map((i) => i.line).sort((a, b) => a - b), [12, 21]);
});

test('empty file and wrong version', () => {
  const e = issuesOf('');
  assert.ok(e.length >= 1);
  one(variant(1, 'version: 2'), 1, 'version', /.+/);
});

test('aliases are followed but bounded', () => {
  const text = variant(32, '        privileges: &p [select]').replace('    approver: true', '    approver: true\n    grants: [{ table: u, privileges: *p }]');
  const p = parsePolicy(text, 'p.yaml');
  assert.deepEqual(p.roles.boss.grants[0].privileges, ['select']);
});

test('merge keys share settings between entries', () => {
  const text = variant(21, '    clearance: 1\n    limits: &lim { max_rows_per_query: 10, max_queries_per_day: 5 }')
    .replace('  boss:\n', '  boss:\n    description: x\n') + 'limits:\n  <<: *lim\n  max_rows_per_query: 20\n';
  const p = parsePolicy(text, 'p.yaml');
  assert.deepEqual(p.limits, { max_rows_per_query: 20, max_queries_per_day: 5 });
});

test('loadPolicyFile: unreadable file and a file on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-load-'));
  try {
    assert.throws(() => loadPolicyFile(join(dir, 'missing.yaml')), (e: unknown) =>
      e instanceof PolicyError && /ENOENT/.test(e.issues[0].message) && e.issues[0].line === 0);
    const f = join(dir, 'p.yaml');
    writeFileSync(f, variant(21, '    clearance: 7'));
    assert.throws(() => loadPolicyFile(f), (e: unknown) =>
      e instanceof PolicyError && e.issues[0].file === f && e.issues[0].line === 21);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseListen', () => {
  assert.deepEqual(parseListen('127.0.0.1:6033'), { host: '127.0.0.1', port: 6033 });
  assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
  assert.equal(parseListen('::1:80'), undefined);
  assert.equal(parseListen('host:99999'), undefined);
});
