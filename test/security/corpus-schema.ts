/**
 * The schema the security corpus runs against, as in-memory catalog specs
 * (the shape `catalogFromTables` accepts). A realistic shop: customers with
 * labelled contact data, orders, views, a second MySQL database and a second
 * PostgreSQL schema holding tables of the same names, and the system
 * relations attackers and drivers reach for.
 */

export interface ColumnSpec { readonly name: string; readonly type: string; readonly nullable: boolean }
export interface TableSpecLike {
  readonly database: string;
  readonly schema?: string;
  readonly name: string;
  readonly kind?: 'table' | 'view';
  readonly columns: readonly (string | ColumnSpec)[];
  readonly rows?: number;
  readonly viewDefinition?: string;
}

const CUSTOMERS = ['id', 'name', 'email', 'phone', 'id_card', 'city', 'created_at'];
const ORDERS = ['id', 'customer_id', 'amount', 'status', 'created_at'];

export const MYSQL_TABLES: readonly TableSpecLike[] = [
  { database: 'shop', name: 'customers', columns: CUSTOMERS, rows: 50_000 },
  { database: 'shop', name: 'orders', columns: ORDERS, rows: 2_000_000 },
  { database: 'shop', name: 'audit_copy', columns: ['id', 'value'], rows: 10 },
  { database: 'shop', name: 'payments', columns: ['id', 'order_id', 'card_number'], rows: 1000 },
  { database: 'shop', name: 'v_customer_city', kind: 'view', columns: ['id', 'name', 'city'],
    viewDefinition: 'select `shop`.`customers`.`id` AS `id`,`shop`.`customers`.`name` AS `name`,`shop`.`customers`.`city` AS `city` from `shop`.`customers`' },
  { database: 'shop', name: 'v_contacts', kind: 'view', columns: ['id', 'name', 'phone'],
    viewDefinition: 'select `shop`.`customers`.`id` AS `id`,`shop`.`customers`.`name` AS `name`,`shop`.`customers`.`phone` AS `phone` from `shop`.`customers`' },
  { database: 'shop', name: 'v_phone_digits', kind: 'view', columns: ['id', 'digits'],
    viewDefinition: 'select `shop`.`customers`.`id` AS `id`,right(`shop`.`customers`.`phone`,4) AS `digits` from `shop`.`customers`' },
  { database: 'crm', name: 'customers', columns: ['id', 'name', 'phone', 'note'], rows: 100 },
  { database: 'crm', name: 'leads', columns: ['id', 'source'], rows: 100 },
  { database: 'mysql', name: 'user', columns: ['Host', 'User', 'authentication_string'], rows: 5 },
  { database: 'information_schema', name: 'TABLES', columns: ['TABLE_SCHEMA', 'TABLE_NAME', 'TABLE_ROWS'] },
  { database: 'information_schema', name: 'COLUMNS', columns: ['TABLE_SCHEMA', 'TABLE_NAME', 'COLUMN_NAME'] },
  { database: 'information_schema', name: 'PROCESSLIST', columns: ['ID', 'USER', 'HOST', 'DB', 'COMMAND', 'TIME', 'STATE', 'INFO'] },
  { database: 'information_schema', name: 'INNODB_TRX', columns: ['trx_id', 'trx_state', 'trx_mysql_thread_id', 'trx_query'] },
  { database: 'information_schema', name: 'INNODB_LOCKS', columns: ['lock_id', 'lock_table', 'lock_data'] },
  { database: 'performance_schema', name: 'events_statements_history', columns: ['THREAD_ID', 'SQL_TEXT'] },
];

export const PG_TABLES: readonly TableSpecLike[] = [
  { database: 'shop', schema: 'public', name: 'customers', columns: CUSTOMERS, rows: 50_000 },
  { database: 'shop', schema: 'public', name: 'orders', columns: ORDERS, rows: 2_000_000 },
  { database: 'shop', schema: 'public', name: 'audit_copy', columns: ['id', 'value'], rows: 10 },
  { database: 'shop', schema: 'public', name: 'payments', columns: ['id', 'order_id', 'card_number'], rows: 1000 },
  { database: 'shop', schema: 'public', name: 'v_customer_city', kind: 'view', columns: ['id', 'name', 'city'],
    viewDefinition: ' SELECT customers.id,\n    customers.name,\n    customers.city\n   FROM public.customers;' },
  { database: 'shop', schema: 'public', name: 'v_contacts', kind: 'view', columns: ['id', 'name', 'phone'],
    viewDefinition: ' SELECT customers.id,\n    customers.name,\n    customers.phone\n   FROM public.customers;' },
  { database: 'shop', schema: 'public', name: 'v_phone_digits', kind: 'view', columns: ['id', 'digits'],
    viewDefinition: ' SELECT customers.id,\n    "right"(customers.phone, 4) AS digits\n   FROM public.customers;' },
  { database: 'shop', schema: 'sales', name: 'customers', columns: ['id', 'region', 'phone'], rows: 100 },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_class', columns: ['oid', 'relname', 'relnamespace', 'relkind', 'reltuples'] },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_namespace', columns: ['oid', 'nspname'] },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_type', columns: ['oid', 'typname'] },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_authid', columns: ['oid', 'rolname', 'rolsuper', 'rolpassword'] },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_roles', kind: 'view', columns: ['rolname', 'rolsuper', 'rolpassword', 'oid'],
    viewDefinition: " SELECT pg_authid.rolname,\n    pg_authid.rolsuper,\n    '********'::text AS rolpassword,\n    pg_authid.oid\n   FROM pg_authid;" },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_shadow', kind: 'view', columns: ['usename', 'passwd'], viewDefinition: ' SELECT pg_authid.rolname AS usename,\n    pg_authid.rolpassword AS passwd\n   FROM pg_authid;' },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_stat_activity', kind: 'view', columns: ['pid', 'query'], viewDefinition: ' SELECT 1 AS pid, \'\'::text AS query;' },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_settings', columns: ['name', 'setting'] },
  { database: 'shop', schema: 'information_schema', name: 'columns', columns: ['table_schema', 'table_name', 'column_name'] },
  { database: 'shop', schema: 'information_schema', name: 'tables', columns: ['table_schema', 'table_name'] },
];
