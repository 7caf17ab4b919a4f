import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from '../../../proxy/cli/commands/explain.js';

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...a: unknown[]) => { lines.push(a.join(' ')); };
  console.error = (...a: unknown[]) => { lines.push(a.join(' ')); };
  try {
    const code = await command.run(args);
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = err;
  }
}

test('sqlgate explain: analysis and decision with reasons, from a catalog file, for the sample policy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-explain-'));
  try {
    const catalog = join(dir, 'catalog.json');
    writeFileSync(catalog, JSON.stringify([
      { database: 'sqlgate_demo', name: 'customers', rows: 200, columns: ['id', 'name', 'email', 'phone', 'id_card', 'city', 'created_at'] },
      { database: 'sqlgate_demo', name: 'orders', rows: 600, columns: ['id', 'customer_id', 'amount', 'status', 'created_at'] },
    ]));
    const base = ['--policy', 'rules/sample-policy.yaml', '--instance', 'demo_mysql', '--catalog', catalog];
    const denied = await run([...base, '--user', 'alice', 'SELECT c.name, c.phone AS contact FROM customers c WHERE c.city = ?']);
    assert.equal(denied.code, 1);
    assert.match(denied.out, /1 contact +← sqlgate_demo\.customers\.phone/);
    assert.match(denied.out, /decision +DENY \[column-acl, label-no-read-up\]/);
    assert.match(denied.out, /sqlgate: no select privilege on column sqlgate_demo\.customers\.phone/);
    assert.match(denied.out, /deny +label-no-read-up +column sqlgate_demo\.customers\.phone \(label 2\) is above your clearance 1/);
    const masked = await run([...base, '--user', 'carol', "SELECT name, phone FROM customers WHERE city = 'Paris'"]);
    assert.equal(masked.code, 0);
    assert.match(masked.out, /1 phone +← sqlgate_demo\.customers\.phone +\[masked: partial\]/);
    const approval = await run([...base, '--user', 'bob', 'ALTER TABLE orders ADD COLUMN note TEXT']);
    assert.equal(approval.code, 3);
    assert.match(approval.out, /NEEDS-APPROVAL \[change-approval\]/);
    const json = await run([...base, '--user', 'bob', '--json', 'SELECT 1; DELETE FROM orders']);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.out).verdict, 'deny');
    assert.equal((await run(['--user', 'x'])).code, 2);
    const grants = await run([...base, '--user', 'carol', '--grants']);
    assert.equal(grants.code, 0);
    assert.match(grants.out, /phone +select +label 2 +masked \(partial\)/);
    assert.match(grants.out, /id_card +- +label 3 +refused/);
    assert.match(grants.out, /status +select,update +label 0 +readable/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
