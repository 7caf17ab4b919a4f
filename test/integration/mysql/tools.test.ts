/**
 * What MariaDB Connector/J (JDBC) sends for its metadata calls, verbatim,
 * through sqlgate with the real gate, by a user with grants on two columns
 * of one table: DBeaver, IntelliJ and other JDBC tools list columns with it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMysqlDatabase, type TempDatabase } from '../../helpers/db.js';
import { mysqlLiveGate } from '../../helpers/live-gate.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { policySchema } from '../../../rules/policy-schema.js';
import { connect, startEndpoint, testPolicy, type Endpoint } from './helpers.js';

let db: TempDatabase;
let ep: Endpoint;

before(async () => {
  await initAnalysis();
  db = await createMysqlDatabase('tools', "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(10), secret VARCHAR(10)); INSERT INTO items VALUES (1, 'one', 's1')");
  const base = testPolicy({ database: db.name });
  const policy = policySchema.parse({
    ...base,
    users: { reader: { password: base.users.both.password, roles: ['reader'] } },
    roles: { reader: { grants: [{ database: db.name, table: 'items', columns: ['id', 'name'], privileges: ['select'] }] } },
  });
  ep = await startEndpoint({ gate: mysqlLiveGate(policy, [db.name, 'information_schema']) as never, policy });
});
after(async () => {
  await ep?.close();
  await db?.drop();
});

/** DatabaseMetaData.getColumns(null, null, "items", "%") of MariaDB Connector/J 2.7. */
const GET_COLUMNS = "SELECT TABLE_SCHEMA TABLE_CAT, NULL TABLE_SCHEM, TABLE_NAME, COLUMN_NAME, CASE data_type WHEN 'bit' THEN -7 WHEN 'tinyblob' THEN -3 WHEN 'mediumblob' THEN -4 WHEN 'longblob' THEN -4 WHEN 'blob' THEN -4 WHEN 'tinytext' THEN 12 WHEN 'mediumtext' THEN -1 WHEN 'longtext' THEN -1 WHEN 'text' THEN -1 WHEN 'date' THEN 91 WHEN 'datetime' THEN 93 WHEN 'decimal' THEN 3 WHEN 'double' THEN 8 WHEN 'enum' THEN 12 WHEN 'float' THEN 7 WHEN 'int' THEN IF( COLUMN_TYPE like '%unsigned%', 4,4) WHEN 'bigint' THEN -5 WHEN 'mediumint' THEN 4 WHEN 'null' THEN 0 WHEN 'set' THEN 12 WHEN 'smallint' THEN IF( COLUMN_TYPE like '%unsigned%', 5,5) WHEN 'varchar' THEN 12 WHEN 'varbinary' THEN -3 WHEN 'char' THEN 1 WHEN 'binary' THEN -2 WHEN 'time' THEN 92 WHEN 'timestamp' THEN 93 WHEN 'tinyint' THEN IF(COLUMN_TYPE like 'tinyint(1)%',-7,-6)  WHEN 'year' THEN 91 ELSE 1111 END  DATA_TYPE, IF(COLUMN_TYPE like 'tinyint(1)%', 'BIT',  UCASE(IF( COLUMN_TYPE LIKE '%(%)%', CONCAT(SUBSTRING( COLUMN_TYPE,1, LOCATE('(',COLUMN_TYPE) - 1 ), SUBSTRING(COLUMN_TYPE ,1+locate(')', COLUMN_TYPE))), COLUMN_TYPE))) TYPE_NAME,  CASE DATA_TYPE  WHEN 'time' THEN IF(DATETIME_PRECISION = 0, 10, CAST(11 + DATETIME_PRECISION as signed integer))  WHEN 'date' THEN 10  WHEN 'datetime' THEN IF(DATETIME_PRECISION = 0, 19, CAST(20 + DATETIME_PRECISION as signed integer))  WHEN 'timestamp' THEN IF(DATETIME_PRECISION = 0, 19, CAST(20 + DATETIME_PRECISION as signed integer))  ELSE   IF(NUMERIC_PRECISION IS NULL, LEAST(CHARACTER_MAXIMUM_LENGTH,2147483647), NUMERIC_PRECISION)  END COLUMN_SIZE, 65535 BUFFER_LENGTH,  CONVERT (CASE DATA_TYPE WHEN 'year' THEN NUMERIC_SCALE WHEN 'tinyint' THEN 0 ELSE NUMERIC_SCALE END, UNSIGNED INTEGER) DECIMAL_DIGITS, 10 NUM_PREC_RADIX, IF(IS_NULLABLE = 'yes',1,0) NULLABLE,COLUMN_COMMENT REMARKS, COLUMN_DEFAULT COLUMN_DEF, 0 SQL_DATA_TYPE, 0 SQL_DATETIME_SUB,   LEAST(CHARACTER_OCTET_LENGTH,2147483647) CHAR_OCTET_LENGTH, ORDINAL_POSITION, IS_NULLABLE, NULL SCOPE_CATALOG, NULL SCOPE_SCHEMA, NULL SCOPE_TABLE, NULL SOURCE_DATA_TYPE, IF(EXTRA = 'auto_increment','YES','NO') IS_AUTOINCREMENT,  IF(EXTRA in ('VIRTUAL', 'PERSISTENT', 'VIRTUAL GENERATED', 'STORED GENERATED') ,'YES','NO') IS_GENERATEDCOLUMN  FROM INFORMATION_SCHEMA.COLUMNS  WHERE TABLE_SCHEMA = database() AND TABLE_NAME='items' ORDER BY TABLE_CAT, TABLE_SCHEM, TABLE_NAME, ORDINAL_POSITION";

test('MariaDB Connector/J getColumns lists the columns; the ungranted one stays unreadable', async () => {
  const c = await connect(ep.port, { user: 'reader', database: db.name });
  try {
    const [rows] = await c.query(GET_COLUMNS);
    assert.deepEqual((rows as { COLUMN_NAME: string; DECIMAL_DIGITS: unknown }[]).map((r) => r.COLUMN_NAME), ['id', 'name', 'secret']);
    await assert.rejects(c.query('SELECT secret FROM items'), /column-acl/);
    // The type argument of CONVERT is never a column; the expression is still read.
    await assert.rejects(c.query('SELECT CONVERT(CASE id WHEN 1 THEN secret ELSE name END, UNSIGNED INTEGER) FROM items'), /column-acl/);
  } finally {
    await c.end();
  }
});
