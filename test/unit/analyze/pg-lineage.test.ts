import { test } from 'node:test';
import assert from 'node:assert/strict';
import { one, run, out, reads, exposes, touches, tables } from './fixtures.js';

const pg = (sql: string, opts?: { searchPath?: string[] }) => one('postgres', sql, opts);

test('bare columns through aliases stay bare; computed ones are not', () => {
  const f = pg('SELECT c.phone AS p, upper(c.name), c.id + 1, c.email || c.note FROM customers AS c');
  assert.equal(f.kind, 'select');
  assert.deepEqual(out(f, 0), ['customers.phone']);
  assert.deepEqual(out(f, 1), ['customers.name~']);
  assert.deepEqual(out(f, 2), ['customers.id~']);
  assert.deepEqual(out(f, 3), ['customers.email~', 'customers.note~']);
  assert.equal(f.unresolved, undefined);
});

test('CASE, casts, COALESCE and concat_ws are computed', () => {
  const f = pg("SELECT CASE WHEN id > 1 THEN phone ELSE 'x' END, phone::text, coalesce(phone, email), concat_ws('-', phone) FROM customers");
  for (let i = 0; i < 4; i++) assert.ok(out(f, i).includes('customers.phone~'), `output ${i}`);
  assert.ok(exposes(f, 'customers.phone'));
});

test('predicates are reads at their place', () => {
  const f = pg("SELECT id FROM customers WHERE phone LIKE '555%' GROUP BY id, email HAVING count(note) > 1 ORDER BY name");
  assert.deepEqual(reads(f, 'where'), ['customers.phone']);
  assert.deepEqual(reads(f, 'group-by'), ['customers.email', 'customers.id']);
  assert.deepEqual(reads(f, 'having'), ['customers.note']);
  assert.deepEqual(reads(f, 'order-by'), ['customers.name']);
  assert.deepEqual(out(f, 0), ['customers.id']);
});

test('SELECT * and t.* expand from the catalog', () => {
  const f = pg('SELECT * FROM customers');
  assert.deepEqual(f.outputs.map((o) => o.name), ['id', 'name', 'phone', 'email', 'note']);
  const g = pg('SELECT o.*, c.phone FROM orders o JOIN customers c ON c.id = o.customer_id');
  assert.deepEqual(g.outputs.map((o) => o.name), ['id', 'customer_id', 'total', 'note', 'phone']);
  assert.deepEqual(reads(g, 'join'), ['customers.id', 'orders.customer_id']);
});

test('JOIN USING merges the column; SELECT * lists it once, first', () => {
  const f = pg('SELECT * FROM customers JOIN orders USING (id)');
  assert.equal(f.outputs[0].name, 'id');
  assert.deepEqual(out(f, 0), ['customers.id', 'orders.id']);
  assert.equal(f.outputs.filter((o) => o.name === 'id').length, 1);
  assert.equal(f.outputs.filter((o) => o.name === 'note').length, 2);
  const n = pg('SELECT note FROM customers NATURAL JOIN orders');
  assert.deepEqual(out(n, 0), ['customers.note', 'orders.note']);
  assert.ok(reads(n, 'join').includes('customers.note'));
});

test('derived tables and CTEs carry lineage', () => {
  const f = pg('SELECT d.x, d.y FROM (SELECT phone AS x, lower(email) AS y FROM customers) d');
  assert.deepEqual(out(f, 0), ['customers.phone']);
  assert.deepEqual(out(f, 1), ['customers.email~']);
  const g = pg('WITH a AS (SELECT phone FROM customers), b(z) AS (SELECT phone FROM a) SELECT z FROM b');
  assert.deepEqual(out(g, 0), ['customers.phone']);
  const w = pg('SELECT x FROM (SELECT phone AS x FROM customers) d WHERE d.x = $1');
  assert.deepEqual(reads(w, 'where'), ['customers.phone']);
});

test('a CTE named like a real table shadows it, and only it', () => {
  const f = pg('WITH customers AS (SELECT 1 AS phone) SELECT phone FROM customers');
  assert.deepEqual(out(f, 0), []);
  assert.deepEqual(tables(f), []);
  // Inside its own body (not recursive) the name is still the real table.
  const g = pg('WITH customers AS (SELECT phone FROM customers) SELECT phone FROM customers');
  assert.deepEqual(out(g, 0), ['customers.phone']);
  // A schema-qualified name skips the CTE.
  const h = pg('WITH customers AS (SELECT 1 AS phone) SELECT phone FROM public.customers');
  assert.deepEqual(out(h, 0), ['customers.phone']);
});

test('recursive CTEs propagate lineage through iterations', () => {
  const f = pg('WITH RECURSIVE r(a, b) AS (SELECT id, 0 FROM customers UNION ALL SELECT b, length(phone) FROM r JOIN customers c ON c.id = r.a) SELECT a FROM r');
  assert.ok(out(f, 0).some((s) => s.startsWith('customers.phone')), JSON.stringify(out(f, 0)));
});

test('UNION outputs are the union of both branches', () => {
  const f = pg('SELECT id, name FROM customers UNION SELECT customer_id, phone FROM orders JOIN customers ON customers.id = orders.customer_id');
  assert.deepEqual(out(f, 1), ['customers.name', 'customers.phone']);
  const g = pg('SELECT note FROM orders INTERSECT SELECT upper(phone) FROM customers');
  assert.deepEqual(out(g, 0), ['customers.phone~', 'orders.note']);
});

test('subqueries: scalar, IN, EXISTS, correlated, LATERAL', () => {
  const f = pg('SELECT (SELECT phone FROM customers c WHERE c.id = o.customer_id) FROM orders o');
  assert.deepEqual(out(f, 0), ['customers.phone~']);
  assert.ok(reads(f).includes('orders.customer_id'));
  const g = pg('SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE phone = $1)');
  assert.ok(reads(g, 'where').includes('customers.phone'));
  const h = pg('SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.email LIKE $1)');
  assert.ok(reads(h, 'where').includes('customers.email'));
  const l = pg('SELECT o.id, x.p FROM orders o, LATERAL (SELECT phone AS p FROM customers c WHERE c.id = o.customer_id) x');
  assert.deepEqual(out(l, 1), ['customers.phone']);
  assert.equal(l.unresolved, undefined);
});

test('aggregates and window functions', () => {
  const f = pg("SELECT string_agg(phone, ','), json_agg(email), count(*), row_number() OVER (PARTITION BY name ORDER BY note) FROM customers");
  assert.deepEqual(out(f, 0), ['customers.phone~']);
  assert.deepEqual(out(f, 1), ['customers.email~']);
  assert.deepEqual(out(f, 2), []);
  assert.deepEqual(reads(f, 'aggregate'), ['customers.email', 'customers.phone']);
  assert.deepEqual(reads(f, 'window'), ['customers.name', 'customers.note']);
});

test('whole-row references', () => {
  for (const sql of ['SELECT c FROM customers c', 'SELECT to_jsonb(c) FROM customers c', 'SELECT row_to_json(c.*) FROM customers c',
    'SELECT (c).* FROM customers c', 'SELECT (c).phone FROM customers c', 'SELECT count(c.*) FROM customers c', 'SELECT id FROM customers c WHERE c::text LIKE $1']) {
    const f = pg(sql);
    assert.deepEqual(f.wholeRows.map((t) => t.table), ['customers'], sql);
    assert.ok(exposes(f, 'customers.phone'), sql);
  }
  // A column named like the table is a column, not the row.
  const g = pg('SELECT name FROM customers name');
  assert.deepEqual(g.wholeRows, []);
});

test('views expand to base columns and are listed with their base tables', () => {
  const f = pg('SELECT contact, who FROM v_contacts');
  assert.deepEqual(out(f, 0), ['customers.phone']);
  assert.deepEqual(out(f, 1), ['customers.name~']);
  assert.deepEqual(tables(f), ['public.customers', 'public.v_contacts']);
  const n = pg('SELECT * FROM v_nested');
  assert.deepEqual(out(n, 0), ['customers.phone']);
});

test('identifier case: unquoted folds, quoted is exact', () => {
  const f = pg('SELECT "Secret" FROM "Mixed"');
  assert.deepEqual(out(f, 0), ['Mixed.Secret']);
  assert.equal(pg('SELECT secret FROM "Mixed"').unresolved?.code, 'UNRESOLVED_COLUMN');
  assert.equal(pg('SELECT "Secret" FROM Mixed').unresolved?.code, 'UNRESOLVED_TABLE');
  assert.deepEqual(out(pg('SELECT PHONE FROM CUSTOMERS'), 0), ['customers.phone']);
  assert.equal(pg('SELECT "PHONE" FROM customers').unresolved?.code, 'UNRESOLVED_COLUMN');
});

test('schema-qualified names and the search path', () => {
  assert.deepEqual(out(pg('SELECT ssn FROM hr.customers'), 0), ['customers.ssn']);
  assert.deepEqual(out(pg('SELECT hr.customers.ssn FROM hr.customers'), 0), ['customers.ssn']);
  const f = pg('SELECT * FROM customers', { searchPath: ['hr', 'public'] });
  assert.deepEqual(f.outputs.map((o) => o.name), ['id', 'ssn']);
  assert.equal(f.tablesRead[0].schema, 'hr');
  assert.equal(pg('SELECT * FROM salaries').unresolved?.code, 'UNRESOLVED_TABLE');
  // pg_catalog is searched first, whatever the path says.
  assert.equal(pg('SELECT relname FROM pg_class').tablesRead[0].schema, 'pg_catalog');
  assert.equal(pg('SELECT * FROM otherdb.public.customers').unresolved?.code, 'UNRESOLVED_TABLE');
});

test('unknown columns and tables fail closed', () => {
  assert.equal(pg('SELECT nope FROM customers').unresolved?.code, 'UNRESOLVED_COLUMN');
  assert.equal(pg('SELECT x.phone FROM customers c').unresolved?.code, 'UNRESOLVED_COLUMN');
  assert.equal(pg('SELECT * FROM nowhere').unresolved?.code, 'UNRESOLVED_TABLE');
  assert.equal(pg('SELEC 1').unresolved?.code, 'UNPARSED_STATEMENT');
});

test('multi-statements: one facts per statement, session changes carried forward', () => {
  const all = run('postgres', "SELECT 1; SET search_path TO hr; SELECT ssn FROM customers; DELETE FROM orders");
  assert.deepEqual(all.map((f) => f.kind), ['select', 'set', 'select', 'delete']);
  assert.deepEqual(all[1].sessionChange, { kind: 'search-path', schemas: ['hr'], local: false });
  assert.deepEqual(out(all[2], 0), ['customers.ssn']);
  const bad = run('postgres', 'SELECT 1; SELEC 2; SELECT phone FROM customers');
  assert.deepEqual(bad.map((f) => f.unresolved?.code), [undefined, 'UNPARSED_STATEMENT', undefined]);
  const reset = run('postgres', 'RESET search_path; SELECT phone FROM customers');
  assert.deepEqual(reset[0].sessionChange, { kind: 'reset-search-path' });
  assert.equal(reset[1].unresolved?.code, 'UNRESOLVED_TABLE');
});

test('writes: targets, columns, WHERE facts', () => {
  const u = pg('UPDATE customers SET phone = upper(email) WHERE id = $1');
  assert.equal(u.kind, 'update');
  assert.deepEqual(u.write?.columns.map((c) => c.column), ['phone']);
  assert.equal(u.write?.hasWhere, true);
  assert.equal(u.write?.whereTouchesTarget, true);
  assert.equal(u.write?.alwaysTrue, false);
  assert.deepEqual(reads(u, 'set'), ['customers.email']);
  for (const w of ['1=1', 'true', "'a'='a'", 'id = id', 'id = $1 OR 1=1', 'NOT false', '1=2', '$1']) {
    const d = pg(`DELETE FROM customers WHERE ${w}`);
    assert.ok(d.write?.alwaysTrue || !d.write?.whereTouchesTarget, w);
  }
  const sub = pg('DELETE FROM customers WHERE EXISTS (SELECT 1 FROM orders)');
  assert.equal(sub.write?.whereTouchesTarget, false);
  const corr = pg('DELETE FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)');
  assert.equal(corr.write?.whereTouchesTarget, true);
  const none = pg('DELETE FROM orders');
  assert.equal(none.write?.hasWhere, false);
  const t = pg('TRUNCATE orders, customers');
  assert.equal(t.write?.truncate, true);
  assert.deepEqual(t.ddlTargets.map((x) => x.table), ['orders', 'customers']);
});

test('UPDATE … FROM, INSERT … SELECT, ON CONFLICT, RETURNING, MERGE', () => {
  const u = pg('UPDATE orders o SET note = c.phone FROM customers c WHERE c.id = o.customer_id RETURNING o.id, c.email');
  assert.deepEqual(u.write?.columns.map((c) => c.column), ['note']);
  assert.ok(reads(u, 'set').includes('customers.phone'));
  assert.deepEqual(out(u, 1), ['customers.email']);
  assert.equal(u.write?.whereTouchesTarget, true);
  const i = pg('INSERT INTO orders (id, note) SELECT id, phone FROM customers ON CONFLICT (id) DO UPDATE SET note = excluded.note RETURNING *');
  assert.equal(i.kind, 'insert');
  assert.ok(reads(i, 'set').includes('customers.phone'));
  assert.equal(i.outputs.length, 4);
  const m = pg('MERGE INTO orders o USING customers c ON o.customer_id = c.id WHEN MATCHED THEN UPDATE SET note = c.phone WHEN NOT MATCHED THEN INSERT (id, note) VALUES (c.id, c.email)');
  assert.equal(m.kind, 'merge');
  assert.deepEqual(m.write?.columns.map((c) => c.column).sort(), ['id', 'note', 'note'].sort());
  assert.ok(reads(m, 'set').includes('customers.phone'));
});

test('data-modifying CTEs and EXPLAIN ANALYZE are writes; EXPLAIN alone is not', () => {
  const d = pg('WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d');
  assert.equal(d.write?.target.table, 'orders');
  assert.equal(d.write?.hasWhere, false);
  const e = pg('EXPLAIN ANALYZE DELETE FROM orders');
  assert.equal(e.kind, 'explain');
  assert.equal(e.write?.target.table, 'orders');
  assert.equal(pg('EXPLAIN DELETE FROM orders').write, undefined);
  assert.equal(pg('EXPLAIN (ANALYZE, FORMAT JSON) UPDATE orders SET note = 1').write?.target.table, 'orders');
});

test('dynamic SQL, files and untrusted functions', () => {
  assert.deepEqual(pg("DO $$ BEGIN EXECUTE 'select 1'; END $$").dynamic, [{ kind: 'do-block' }, { kind: 'execute-dynamic' }]);
  assert.deepEqual(pg('DO $$ BEGIN PERFORM 1; END $$').dynamic, [{ kind: 'do-block' }]);
  assert.deepEqual(pg("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'x'; END $$").dynamic, [{ kind: 'execute-dynamic' }]);
  assert.deepEqual(pg('CALL archive_orders(1)').dynamic, [{ kind: 'call', name: 'archive_orders' }]);
  assert.equal(pg("COPY customers TO '/tmp/c.csv'").dynamic[0].kind, 'copy-to-file');
  assert.equal(pg("COPY customers FROM PROGRAM 'cat /etc/passwd'").dynamic[0].kind, 'copy-program');
  const out1 = pg('COPY (SELECT phone FROM customers) TO STDOUT');
  assert.equal(out1.kind, 'copy');
  assert.deepEqual(out(out1, 0), ['customers.phone']);
  const all = pg('COPY customers TO STDOUT');
  assert.equal(all.outputs.length, 5);
  const inp = pg('COPY orders (id, note) FROM STDIN');
  assert.deepEqual(inp.write?.columns.map((c) => c.column), ['id', 'note']);
  assert.equal(pg("SELECT pg_read_file('/etc/passwd')").dynamic[0].kind, 'file-function');
  assert.deepEqual(pg("SELECT query_to_xml('select * from customers', true, true, '')").dynamic, [{ kind: 'untrusted-function', name: 'query_to_xml' }]);
  assert.deepEqual(pg('SELECT my_udf(phone) FROM customers').dynamic, [{ kind: 'untrusted-function', name: 'my_udf' }]);
  assert.deepEqual(pg('SELECT upper(phone), length(name) FROM customers').dynamic, []);
});

test('statement kinds and session changes', () => {
  const cases: [string, string, string][] = [
    ['BEGIN', 'transaction', 'begin'], ['COMMIT', 'transaction', 'commit'], ['SAVEPOINT a', 'transaction', 'savepoint'],
    ['SHOW search_path', 'show', 'show'], ['CREATE TABLE x (a int)', 'ddl', 'create_table'], ['ALTER TABLE orders ADD COLUMN z int', 'ddl', 'alter_table'],
    ['DROP TABLE orders, hr.salaries', 'ddl', 'drop_table'], ['GRANT SELECT ON orders TO bob', 'grant', 'grant'], ['LOCK TABLE orders', 'lock', 'lock'],
    ['PREPARE q AS SELECT phone FROM customers', 'prepare', 'prepare'], ['EXECUTE q', 'execute', 'execute'], ['DEALLOCATE q', 'deallocate', 'deallocate'],
    ['CREATE VIEW v AS SELECT phone FROM customers', 'ddl', 'create_view'], ['VACUUM orders', 'other', 'vacuum'],
    ['FETCH 10 FROM c', 'select', 'fetch'], ['CLOSE c', 'other', 'close_portal'], ["LOAD 'auto_explain'", 'other', 'load'],
  ];
  for (const [sql, kind, verb] of cases) {
    const f = pg(sql);
    assert.equal(f.kind, kind, sql);
    assert.equal(f.verb, verb, sql);
  }
  assert.deepEqual(pg('DROP TABLE orders, hr.salaries').ddlTargets.map((t) => `${t.schema}.${t.table}`), ['public.orders', 'hr.salaries']);
  assert.ok(touches(pg('CREATE VIEW v AS SELECT phone FROM customers'), 'customers.phone'));
  assert.deepEqual(pg('SET LOCAL search_path = a, "B"').sessionChange, { kind: 'search-path', schemas: ['a', 'B'], local: true });
  assert.deepEqual(pg("SET client_encoding = 'LATIN1'").sessionChange, { kind: 'setting', name: 'client_encoding', value: 'LATIN1' });
  assert.deepEqual(pg('SET standard_conforming_strings = off').sessionChange, { kind: 'setting', name: 'standard_conforming_strings', value: 'off' });
  assert.deepEqual(pg("SET NAMES 'LATIN1'").sessionChange, { kind: 'setting', name: 'client_encoding', value: 'LATIN1' });
});

test('hints and fingerprints', () => {
  const f = pg('/*+ sqlgate:skip(no-unqualified-dml) */ DELETE FROM orders');
  assert.deepEqual(f.hints, [{ name: 'skip', args: ['no-unqualified-dml'] }]);
  assert.equal(pg("SELECT '/*+ sqlgate:skip(x) */'").hints.length, 0);
  assert.equal(pg('SELECT id FROM orders WHERE id = 1').fingerprint, pg('SELECT id FROM orders WHERE id = 42').fingerprint);
  assert.notEqual(pg('SELECT id FROM orders').fingerprint, pg('SELECT note FROM orders').fingerprint);
});

test('* lines up with the server column by column, or is refused', () => {
  // USING columns come first, once; a later comma item keeps its own id.
  const f = pg('SELECT * FROM customers JOIN orders USING (id), hr.salaries');
  assert.deepEqual(f.outputs.map((o) => o.name), ['id', 'name', 'phone', 'email', 'note', 'customer_id', 'total', 'note', 'emp', 'amount']);
  const g = pg('SELECT * FROM orders o, customers c JOIN orders o2 USING (id)');
  assert.deepEqual(g.outputs.map((o) => o.name).slice(0, 5), ['id', 'customer_id', 'total', 'note', 'id']);
  assert.equal(g.outputs.length, 4 + 1 + 4 + 3);
  // Functions with known result columns expand; unknown ones refuse `*` but allow named columns.
  assert.deepEqual(pg("SELECT * FROM jsonb_each('{}'::jsonb) j, customers c").outputs.slice(0, 3).map((o) => o.name), ['key', 'value', 'id']);
  assert.equal(pg('SELECT * FROM generate_series(1, 3) g, customers c').outputs[3].name, 'phone');
  assert.equal(pg("SELECT * FROM json_populate_record(null::customers, '{}') r, customers c").unresolved?.code, 'UNRESOLVED_COLUMN');
  const r = pg("SELECT r.a FROM jsonb_to_record('{}') AS r(a int, b text)");
  assert.equal(r.unresolved, undefined);
});

test('(t).* expands to one output per column, so later positions line up', () => {
  const f = pg('SELECT (c).*, c.phone FROM customers c');
  assert.equal(f.outputs.length, 6);
  assert.deepEqual(out(f, 5), ['customers.phone']);
  assert.deepEqual(out(f, 2), ['customers.phone~']);
});

test('SET LOCAL search_path lasts until the end of the transaction; after it, names fail closed', () => {
  const all = run('postgres', 'BEGIN; SET LOCAL search_path TO hr; SELECT ssn FROM customers; COMMIT; SELECT phone FROM customers');
  assert.deepEqual(out(all[2], 0), ['customers.ssn']);
  assert.equal(all[4].unresolved?.code, 'UNRESOLVED_TABLE');
});

test('writing through a view names the base column too', () => {
  const u = pg("UPDATE v_contacts SET contact = 'x' WHERE id = 1");
  assert.equal(u.write?.target.table, 'v_contacts');
  assert.deepEqual(u.write?.columns.map((c) => `${c.table}.${c.column}`), ['v_contacts.contact', 'customers.phone']);
});

test('ON CONFLICT inference predicates and DO UPDATE conditions are read', () => {
  const f = pg('INSERT INTO orders (id) VALUES (1) ON CONFLICT (id) WHERE note IS NOT NULL DO NOTHING');
  assert.equal(f.unresolved, undefined, f.unresolved?.message);
  assert.deepEqual(reads(f, 'where'), ['orders.note']);
  const g = pg('INSERT INTO orders (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET total = excluded.total WHERE orders.note = $1');
  assert.ok(reads(g, 'where').includes('orders.note'));
});
