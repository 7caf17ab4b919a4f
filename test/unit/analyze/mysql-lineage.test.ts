import { test } from 'node:test';
import assert from 'node:assert/strict';
import { one, run, out, reads, exposes, touches, tables } from './fixtures.js';

const my = (sql: string, opts?: { database?: string }) => one('mysql', sql, opts);

test('aliases, functions, CONCAT, CASE, arithmetic', () => {
  const f = my("SELECT c.phone AS p, CONCAT(c.name, '-', c.email), CASE WHEN id > 1 THEN phone END, id * 2, IF(note IS NULL, phone, 'x') FROM customers c");
  assert.deepEqual(out(f, 0), ['customers.phone']);
  assert.deepEqual(out(f, 1), ['customers.email~', 'customers.name~']);
  assert.ok(out(f, 2).includes('customers.phone~'));
  assert.deepEqual(out(f, 3), ['customers.id~']);
  assert.ok(out(f, 4).includes('customers.phone~'));
  assert.equal(f.unresolved, undefined);
});

test('column names are case-insensitive, table names exact, backticks honoured', () => {
  assert.deepEqual(out(my('SELECT PHONE FROM customers'), 0), ['customers.phone']);
  assert.deepEqual(out(my('SELECT `Secret` FROM `Mixed`'), 0), ['Mixed.Secret']);
  assert.deepEqual(out(my('SELECT secret FROM Mixed'), 0), ['Mixed.Secret']);
  assert.equal(my('SELECT phone FROM CUSTOMERS').unresolved?.code, 'UNRESOLVED_TABLE');
  assert.equal(my('SELECT phone FROM `customers ` ').unresolved?.code, 'UNRESOLVED_TABLE');
});

test('database-qualified names and USE', () => {
  assert.deepEqual(out(my('SELECT ssn FROM hr.customers'), 0), ['customers.ssn']);
  assert.equal(my('SELECT ssn FROM hr.customers').tablesRead[0].database, 'hr');
  assert.deepEqual(out(my('SELECT `hr`.`customers`.`ssn` FROM `hr`.`customers`'), 0), ['customers.ssn']);
  const all = run('mysql', 'USE hr; SELECT * FROM customers');
  assert.deepEqual(all[0].sessionChange, { kind: 'use', database: 'hr' });
  assert.deepEqual(all[1].outputs.map((o) => o.name), ['id', 'ssn']);
  assert.equal(my('SELECT 1 FROM customers', { database: 'nowhere' }).unresolved?.code, 'UNRESOLVED_TABLE');
});

test('SELECT *, t.*, derived tables, CTEs and UNION', () => {
  assert.deepEqual(my('SELECT * FROM orders').outputs.map((o) => o.name), ['id', 'customer_id', 'total', 'note']);
  const t = my('SELECT o.*, c.phone FROM orders o JOIN customers c ON c.id = o.customer_id');
  assert.equal(t.outputs.length, 5);
  const d = my('SELECT x FROM (SELECT phone AS x FROM customers) AS d WHERE x > 0');
  assert.deepEqual(out(d, 0), ['customers.phone']);
  assert.deepEqual(reads(d, 'where'), ['customers.phone']);
  const c = my('WITH a AS (SELECT phone FROM customers) SELECT phone FROM a');
  assert.deepEqual(out(c, 0), ['customers.phone']);
  const u = my('SELECT id FROM orders UNION ALL SELECT phone FROM customers');
  assert.deepEqual(out(u, 0), ['customers.phone', 'orders.id']);
});

test('CTE named like the real table shadows it; a case-only difference is refused', () => {
  const f = my('WITH customers AS (SELECT 1 AS phone) SELECT phone FROM customers');
  assert.deepEqual(out(f, 0), []);
  assert.equal(my('WITH Customers AS (SELECT 1 AS phone) SELECT phone FROM customers').unresolved?.code, 'UNRESOLVED_TABLE');
});

test('subqueries: scalar, IN, EXISTS, correlated', () => {
  const f = my('SELECT (SELECT phone FROM customers c WHERE c.id = o.customer_id LIMIT 1) AS p FROM orders o');
  assert.deepEqual(out(f, 0), ['customers.phone~']);
  const g = my('SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE phone LIKE ?)');
  assert.ok(reads(g).includes('customers.phone'));
  const h = my("SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.email = 'x')");
  assert.ok(reads(h).includes('customers.email'));
});

test('ANY/ALL subqueries are comparisons, not functions; MATCH … AGAINST reads its columns', () => {
  const f = my('SELECT id FROM orders WHERE customer_id = ANY (SELECT id FROM customers WHERE phone = 1)');
  assert.deepEqual(f.dynamic, []);
  assert.ok(reads(f).includes('customers.phone'));
  const m = my("SELECT id FROM customers WHERE MATCH(name, email) AGAINST ('x' IN BOOLEAN MODE)");
  assert.equal(m.unresolved, undefined, m.unresolved?.message);
  assert.deepEqual(reads(m, 'where'), ['customers.email', 'customers.name']);
});

test('GROUP_CONCAT and aggregates are computed reads', () => {
  const f = my("SELECT GROUP_CONCAT(phone ORDER BY email SEPARATOR ','), COUNT(*), MAX(total) FROM customers JOIN orders ON orders.customer_id = customers.id");
  assert.ok(out(f, 0).includes('customers.phone~'));
  assert.ok(reads(f, 'aggregate').includes('customers.email'));
  assert.deepEqual(out(f, 1), []);
});

test('views expand to base columns', () => {
  const f = my('SELECT contact FROM v_contacts');
  assert.deepEqual(out(f, 0), ['customers.phone']);
  assert.deepEqual(tables(f), ['shop.customers', 'shop.v_contacts']);
});

test('executable comments are read as the server runs them', () => {
  const f = my('SELECT id /*!, phone */ FROM customers');
  assert.deepEqual(f.outputs.map((o) => o.name), ['id', 'phone']);
  const g = my('SELECT id FROM customers /*!50000 WHERE phone = 1 */');
  assert.deepEqual(reads(g, 'where'), ['customers.phone']);
  // A version the server may not run: both readings judged, the more dangerous write kept.
  const d = my('DELETE FROM orders /*!99999 WHERE id = 1 */');
  assert.equal(d.write?.hasWhere, false);
  const m = my('DELETE FROM orders /*M! WHERE id = 1 */');
  assert.equal(m.write?.hasWhere, false);
  const r = my('SELECT id /*!90000 , phone */ FROM customers');
  assert.ok(r.unresolved);
});

test('multi-statements: the second statement is analysed on its own', () => {
  const all = run('mysql', 'SELECT id FROM orders; SELECT phone FROM customers WHERE email = 1');
  assert.equal(all.length, 2);
  assert.deepEqual(all[0].reads, []);
  assert.deepEqual(reads(all[1], 'where'), ['customers.email']);
  assert.equal(all[1].text, 'SELECT phone FROM customers WHERE email = 1');
});

test('writes: UPDATE/DELETE facts, multi-table, REPLACE, INSERT … SELECT, ON DUPLICATE KEY', () => {
  const u = my('UPDATE customers SET phone = NULL WHERE id = 3 LIMIT 1');
  assert.equal(u.write?.hasWhere, true);
  assert.equal(u.write?.hasLimit, true);
  assert.equal(u.write?.whereTouchesTarget, true);
  for (const w of ['1=1', 'TRUE', "'a'='a'", 'id = id', 'id = 3 OR 1 = 1', 'NOT FALSE', '1', '1 = 2']) {
    const d = my(`DELETE FROM customers WHERE ${w}`);
    assert.ok(d.write?.alwaysTrue || !d.write?.whereTouchesTarget, w);
  }
  const j = my('UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.note = c.phone WHERE c.id = 1');
  assert.equal(j.write?.target.table, 'orders');
  assert.equal(j.write?.whereTouchesTarget, false);
  assert.ok(reads(j, 'set').includes('customers.phone'));
  const md = my('DELETE o, c FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 1');
  assert.equal(md.writes?.length, 2);
  assert.equal(md.write?.target.table, 'customers');
  const r = my('REPLACE INTO orders (id, note) SELECT id, phone FROM customers');
  assert.equal(r.kind, 'replace');
  assert.ok(reads(r, 'set').includes('customers.phone'));
  const dup = my('INSERT INTO orders (id, note) VALUES (1, 2) ON DUPLICATE KEY UPDATE note = VALUES(note), total = total + 1');
  assert.deepEqual(dup.write?.columns.map((c) => c.column), ['id', 'note', 'total']);
  const set = my('INSERT INTO orders SET id = 1, note = 2');
  assert.deepEqual(set.write?.columns.map((c) => c.column), ['id', 'note']);
  const t = my('TRUNCATE TABLE orders');
  assert.equal(t.write?.truncate, true);
  assert.equal(t.kind, 'ddl');
});

test('statements node-sql-parser cannot read get a kind from the classifier', () => {
  const cases: [string, string][] = [
    ['SET NAMES utf8mb4', 'set'], ['SAVEPOINT a', 'transaction'], ['ROLLBACK TO SAVEPOINT a', 'transaction'], ['PREPARE s FROM @q', 'prepare'],
    ['EXECUTE s USING @a', 'execute'], ['DEALLOCATE PREPARE s', 'deallocate'], ['DO SLEEP(1)', 'do'], ['KILL 12', 'other'],
    ['ANALYZE TABLE orders', 'other'], ['SHOW FULL PROCESSLIST', 'show'], ['SHOW CREATE TABLE orders', 'show'], ['USE hr', 'use'],
    ['BEGIN', 'transaction'], ['START TRANSACTION READ ONLY', 'transaction'], ['COMMIT', 'transaction'], ['LOCK TABLES orders READ', 'lock'],
    ['CALL shop.archive(1)', 'call'], ["LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE orders", 'load_data'], ['GRANT SELECT ON shop.* TO bob', 'grant'],
    ['CREATE TABLE x (a INT)', 'ddl'], ['DROP TABLE IF EXISTS orders, customers', 'ddl'], ['RENAME TABLE orders TO o2', 'ddl'], ['ALTER TABLE orders ADD z INT', 'ddl'],
    ['DESCRIBE orders', 'show'], ['EXPLAIN SELECT * FROM orders', 'explain'], ['SET SESSION sql_mode = ANSI_QUOTES', 'set'],
  ];
  for (const [sql, kind] of cases) assert.equal(my(sql).kind, kind, sql);
  assert.equal(my('HANDLER customers READ FIRST').unresolved?.code, 'UNPARSED_STATEMENT');
  assert.deepEqual(my('DROP TABLE IF EXISTS orders, hr.customers').ddlTargets.map((t) => `${t.database}.${t.table}`), ['shop.orders', 'hr.customers']);
});

test('session settings that change lexing are reported', () => {
  assert.deepEqual(my('SET NAMES gbk').sessionChange, { kind: 'setting', name: 'names', value: 'gbk' });
  assert.deepEqual(my('SET CHARACTER SET latin1').sessionChange, { kind: 'setting', name: 'character set', value: 'latin1' });
  assert.deepEqual(my("SET @@session.sql_mode = 'NO_BACKSLASH_ESCAPES'").sessionChange, { kind: 'setting', name: 'sql_mode', value: 'NO_BACKSLASH_ESCAPES' });
  assert.deepEqual(my("SET @a = 1, sql_mode = 'ANSI_QUOTES'").sessionChange, { kind: 'setting', name: 'sql_mode', value: 'ANSI_QUOTES' });
  // Every assignment, its scope (a scope word holds until the next) and its value's form.
  assert.deepEqual(my("SET GLOBAL a = 1, b = 'x' 'y', SESSION c = DEFAULT, @u = 2, @@persist.d = 3, f = 0x41").settings, [
    { name: 'a', scope: 'global', value: { kind: 'constant', text: '1', quoted: false } },
    { name: 'b', scope: 'global', value: { kind: 'constant', text: 'xy', quoted: true } },
    { name: 'c', scope: 'session', value: { kind: 'default' } },
    { name: 'd', scope: 'global', value: { kind: 'constant', text: '3', quoted: false } },
    { name: 'f', scope: 'session', value: { kind: 'expression', text: '0x41' } },
  ]);
  assert.deepEqual(my("SET @@SESSION.sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')").settings, [
    { name: 'sql_mode', scope: 'session', value: { kind: 'extends-current', literals: [',STRICT_ALL_TABLES'] } },
  ]);
});

test('dynamic SQL and file access', () => {
  assert.deepEqual(my('PREPARE s FROM @q').dynamic, [{ kind: 'prepare-from-variable', name: 's' }]);
  const p = my("PREPARE s FROM 'SELECT phone FROM customers WHERE email = ?'");
  assert.equal(p.dynamic[0].kind, 'prepare-from-text');
  // EXECUTE returns the rows later, unmasked: the prepared output is not a maskable pass-through.
  assert.deepEqual(out(p, 0), ['customers.phone~']);
  assert.ok(reads(p, 'where').includes('customers.email'));
  const s = my('SET @x := (SELECT phone FROM customers LIMIT 1)');
  assert.ok(s.dynamic.some((d) => d.kind === 'set-variable-from-query'));
  assert.ok(exposes(s, 'customers.phone'));
  const assign = my('SELECT @x := phone FROM customers LIMIT 1');
  assert.ok(assign.dynamic.some((d) => d.kind === 'set-variable-from-query'));
  assert.ok(exposes(assign, 'customers.phone'));
  const into = my('SELECT phone INTO @p FROM customers LIMIT 1');
  assert.ok(into.dynamic.some((d) => d.kind === 'set-variable-from-query'));
  assert.ok(exposes(into, 'customers.phone'));
  assert.equal(my("SELECT * FROM customers INTO OUTFILE '/tmp/c'").dynamic[0].kind, 'into-outfile');
  assert.equal(my("SELECT LOAD_FILE('/etc/passwd')").dynamic[0].kind, 'file-function');
  assert.deepEqual(my("CALL shop.archive(1)").dynamic, [{ kind: 'call', name: 'shop.archive' }]);
  assert.equal(my("LOAD DATA INFILE '/tmp/x' INTO TABLE orders").write?.target.table, 'orders');
  assert.ok(touches(my('DO (SELECT phone FROM customers LIMIT 1)'), 'customers.phone'));
  assert.deepEqual(my('SELECT my_udf(phone) FROM customers').dynamic, [{ kind: 'untrusted-function', name: 'my_udf' }]);
  assert.equal(my("EXECUTE IMMEDIATE 'SELECT phone FROM customers'").dynamic[0].kind, 'execute-dynamic');
});

test('EXPLAIN ANALYZE / MariaDB ANALYZE of a write is a write; EXPLAIN alone is not', () => {
  assert.equal(my('EXPLAIN ANALYZE DELETE FROM orders').write?.target.table, 'orders');
  assert.equal(my('ANALYZE DELETE FROM orders').write?.target.table, 'orders');
  assert.equal(my('EXPLAIN DELETE FROM orders').write, undefined);
});

test('CREATE VIEW / CREATE TABLE … SELECT read their query', () => {
  const v = my('CREATE VIEW leak AS SELECT phone FROM customers');
  assert.equal(v.kind, 'ddl');
  assert.ok(touches(v, 'customers.phone'));
  const t = my('CREATE TABLE copy AS SELECT phone FROM customers');
  assert.ok(touches(t, 'customers.phone'));
  assert.deepEqual(t.ddlTargets.map((x) => x.table), ['copy']);
});

test('index hints are dropped before parsing; unsupported joins fail closed', () => {
  const f = my('SELECT o.id, c.phone FROM orders o FORCE INDEX FOR JOIN (PRIMARY) JOIN customers c USE INDEX (PRIMARY) ON c.id = o.customer_id');
  assert.equal(f.unresolved, undefined);
  assert.deepEqual(out(f, 1), ['customers.phone']);
  const n = my('SELECT note FROM customers NATURAL JOIN orders');
  assert.ok(n.unresolved || out(n, 0).length === 2);
});

test('statement modifiers (LOW_PRIORITY, QUICK, IGNORE, DELAYED) do not defeat parsing', () => {
  for (const sql of ['DELETE LOW_PRIORITY QUICK IGNORE FROM orders WHERE id = 1', 'UPDATE LOW_PRIORITY IGNORE orders SET total = 1 WHERE id = 2',
    'INSERT LOW_PRIORITY IGNORE INTO orders (id) VALUES (1)', 'REPLACE DELAYED INTO orders (id) VALUES (1)']) {
    const f = my(sql);
    assert.equal(f.unresolved, undefined, sql);
    assert.equal(f.write?.target.table, 'orders', sql);
  }
  assert.equal(my('DELETE IGNORE FROM orders').write?.hasWhere, false);
});
