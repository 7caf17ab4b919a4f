/** In-memory catalogs and small accessors shared by the analysis tests. */
import type { Dialect, StatementFacts } from '../../../governance/facts.js';
import { catalogFromTables, type Catalog } from '../../../governance/catalog/catalog.js';
import { analyze, initAnalysis } from '../../../governance/analyze/analyze.js';

export const pgCatalog: Catalog = catalogFromTables('postgres', [
  { database: 'shop', name: 'customers', columns: ['id', 'name', 'phone', 'email', 'note'] },
  { database: 'shop', name: 'orders', columns: ['id', 'customer_id', 'total', 'note'] },
  { database: 'shop', name: 'Mixed', columns: ['Id', 'Secret'] },
  { database: 'shop', schema: 'hr', name: 'salaries', columns: ['emp', 'amount'] },
  { database: 'shop', schema: 'hr', name: 'customers', columns: ['id', 'ssn'] },
  { database: 'shop', name: 'v_contacts', kind: 'view', columns: ['id', 'contact', 'who'],
    viewDefinition: ' SELECT c.id, c.phone AS contact, upper(c.name) AS who FROM public.customers c WHERE c.email IS NOT NULL;' },
  { database: 'shop', name: 'v_nested', kind: 'view', columns: ['contact'], viewDefinition: 'SELECT v.contact FROM public.v_contacts v' },
  { database: 'shop', schema: 'pg_catalog', name: 'pg_class', columns: ['oid', 'relname'] },
]);

export const myCatalog: Catalog = catalogFromTables('mysql', [
  { database: 'shop', name: 'customers', columns: ['id', 'name', 'phone', 'email', 'note'] },
  { database: 'shop', name: 'orders', columns: ['id', 'customer_id', 'total', 'note'] },
  { database: 'shop', name: 'Mixed', columns: ['Id', 'Secret'] },
  { database: 'hr', name: 'salaries', columns: ['emp', 'amount'] },
  { database: 'hr', name: 'customers', columns: ['id', 'ssn'] },
  { database: 'shop', name: 'v_contacts', kind: 'view', columns: ['id', 'contact'],
    viewDefinition: 'select `c`.`id` AS `id`,`c`.`phone` AS `contact` from `shop`.`customers` `c` where `c`.`email` is not null' },
]);

await initAnalysis();

export function run(dialect: Dialect, sql: string, opts: { database?: string; searchPath?: string[] } = {}): StatementFacts[] {
  return analyze(sql, {
    dialect, catalog: dialect === 'postgres' ? pgCatalog : myCatalog,
    database: opts.database ?? 'shop', searchPath: opts.searchPath ?? ['public'],
  });
}

export function one(dialect: Dialect, sql: string, opts: { database?: string; searchPath?: string[] } = {}): StatementFacts {
  const all = run(dialect, sql, opts);
  if (all.length !== 1) throw new Error(`expected one statement, got ${all.length}`);
  return all[0];
}

/** `table.column` or `table.column~` (computed) for each source of output i. */
export function out(f: StatementFacts, i: number): string[] {
  const o = f.outputs[i];
  if (!o) return [];
  return o.sources.map((s) => `${s.column.table}.${s.column.column}${s.bare ? '' : '~'}`).sort();
}

/** Every output source as `table.column[~]`. */
export function allOut(f: StatementFacts): string[] {
  return f.outputs.flatMap((_, i) => out(f, i));
}

/** Columns read (any place) as `table.column`. */
export function reads(f: StatementFacts, place?: string): string[] {
  return [...new Set(f.reads.filter((r) => !place || r.place === place).map((r) => `${r.column.table}.${r.column.column}`))].sort();
}

/** Does the statement expose `table.column` anywhere other than a bare output? */
export function exposes(f: StatementFacts, col: string): boolean {
  const [t, c] = col.split('.');
  return f.reads.some((r) => r.column.table === t && r.column.column === c)
    || f.outputs.some((o) => o.sources.some((s) => !s.bare && s.column.table === t && s.column.column === c))
    || f.wholeRows.some((w) => w.table === t);
}

/** Does `table.column` reach the client in any way (bare or not)? */
export function touches(f: StatementFacts, col: string): boolean {
  const [t, c] = col.split('.');
  return exposes(f, col) || f.outputs.some((o) => o.sources.some((s) => s.column.table === t && s.column.column === c));
}

export function tables(f: StatementFacts): string[] {
  return f.tablesRead.map((t) => `${t.schema}.${t.table}`).sort();
}
