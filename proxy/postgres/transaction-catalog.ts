/**
 * The schema as one PostgreSQL session's open transaction sees it. DDL inside
 * a transaction is invisible to every other connection until it commits, so
 * the shared catalog (read over its own connection) cannot judge what
 * follows it: a table created a statement ago is unknown, a renamed column
 * still has its old name. After such DDL the door reads the catalog over the
 * session's own upstream connection, between the client's statements, and
 * judges the rest of the transaction against it.
 *
 * The reads run inside a savepoint of sqlgate's own, rolled back to and
 * released before the client's next statement runs, so that neither a
 * failing read nor a setting the loader changes outlives them.
 */
import { loadPgCatalog, type Catalog, type PgQueryable } from '../../governance/catalog/catalog.js';

/** One statement of sqlgate's own on the session: its columns and text rows; throws on an upstream error. */
export type RunInternal = (sql: string) => Promise<{ fields: readonly { name: string; typeOid: number }[]; rows: readonly (string | null)[][] }>;

const SAVEPOINT = 'sqlgate_catalog';

/** Type OIDs whose text is a number or a boolean, converted as `pg` converts them (int8 stays a string). */
const NUMERIC = new Set([21, 23, 26, 700, 701]);
const BOOL = 16;

/** A literal that reads the same whatever standard_conforming_strings is. */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  return `E'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** `loadPgCatalog`'s client, over statements of sqlgate's own; `$n` parameters are inlined as literals. */
export function internalQueryable(run: RunInternal): PgQueryable {
  return {
    async query(sql: string, values?: unknown[]) {
      const text = values ? sql.replace(/\$(\d+)/g, (_, n: string) => literal(values[Number(n) - 1])) : sql;
      const { fields, rows } = await run(text);
      return {
        rows: rows.map((r) => {
          const o: Record<string, unknown> = {};
          fields.forEach((f, i) => {
            const v = r[i];
            o[f.name] = v === null || v === undefined ? null : f.typeOid === BOOL ? v === 't' : NUMERIC.has(f.typeOid) ? Number(v) : v;
          });
          return o;
        }),
      };
    },
  };
}

/**
 * Loads the catalog as the session's transaction sees it, then rolls back to
 * the savepoint whatever happened: the reads changed no data, but the loader
 * sets search_path while it prints view definitions, and putting it back
 * with set_config would turn a SET LOCAL of the client's into a setting
 * that outlives its transaction.
 */
export async function loadTransactionCatalog(run: RunInternal): Promise<Catalog> {
  await run(`SAVEPOINT ${SAVEPOINT}`);
  try {
    return await loadPgCatalog(internalQueryable(run));
  } finally {
    await run(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    await run(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  }
}
