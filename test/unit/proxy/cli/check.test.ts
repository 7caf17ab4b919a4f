import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, cli } from './run-cli.js';

test('sqlgate check on the sample policy prints a summary', () => {
  const r = cli(['check', 'rules/sample-policy.yaml']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /rules\/sample-policy\.yaml: policy is valid/);
  assert.match(r.stdout, /demo_mysql\s+mysql\s+127\.0\.0\.1:3306/);
  assert.match(r.stdout, /postgres 127\.0\.0\.1:6432 -> demo_pg/);
  assert.match(r.stdout, /users\s+3 \(alice, bob, carol\)/);
});

test('sqlgate check without an argument checks the shipped sample (or $SQLGATE_POLICY)', () => {
  const r = cli(['check']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /sample-policy\.yaml: policy is valid/);
  const dir = mkdtempSync(join(tmpdir(), 'sg-cli-'));
  try {
    const f = join(dir, 'p.yaml');
    writeFileSync(f, 'version: 1\ninstances: {}\n');
    const e = cli(['check'], { env: { ...process.env, SQLGATE_POLICY: f } });
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, new RegExp(`${f}: policy is valid`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlgate check prints line-numbered errors and exits 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-cli-'));
  try {
    const f = join(dir, 'bad.yaml');
    const text = readFileSync(join(ROOT, 'rules', 'sample-policy.yaml'), 'utf8')
      .replace('    roles: [analyst]\n', '    roles: [analyst, auditor]\n')
      .replace('    port: 5432\n', '    port: "5432"\n');
    writeFileSync(f, text);
    const lines = text.split('\n');
    const roleLine = lines.findIndex((l) => l.includes('[analyst, auditor]')) + 1;
    const portLine = lines.findIndex((l) => l.includes('port: "5432"')) + 1;
    const r = cli(['check', f]);
    assert.equal(r.status, 1);
    // zod problems are reported first; the cross-check runs once the schema passes
    assert.match(r.stderr, new RegExp(`${f}:${portLine}:11: instances\\.demo_pg\\.port: .*expected number`));
    writeFileSync(f, text.replace('    port: "5432"\n', '    port: 5432\n'));
    const r2 = cli(['check', f]);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, new RegExp(`${f}:${roleLine}:\\d+: users\\.alice\\.roles\\[1\\]: role 'auditor' is not defined`));
    assert.match(r2.stderr, /1 problem; policy rejected/);
    assert.equal(r2.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlgate check: missing file, bad usage, --help', () => {
  const r = cli(['check', '/nonexistent/p.yaml']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\/p\.yaml: cannot read: ENOENT/);
  assert.equal(cli(['check', 'a.yaml', 'b.yaml']).status, 2);
  const h = cli(['check', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /usage: sqlgate check/);
});
