/**
 * Scope resolution, `*` expansion and column lineage over the IR, written
 * once for both dialects. Fails closed: any name that cannot be resolved
 * against the catalog sets `unresolved`, and analysis carries on so that the
 * facts still list what could be seen.
 */
import type { ColumnId, ColumnRead, Dialect, DynamicFacts, OutputColumn, ReadPlace, TableId, Unresolved, WriteFacts } from '../facts.js';
import { objectKey } from '../facts.js';
import type { Catalog, CatalogTable } from '../catalog/catalog.js';
import { sameColumnName } from '../catalog/catalog.js';
import type { Assignment, Cte, DeleteStmt, Expr, FromItem, InsertStmt, MergeStmt, QName, Query, RelStmt, Target, TruncateStmt, UpdateStmt, With, WriteStmt } from './ir.js';
import { functionTrust } from './functions.js';

/** A base column a value comes from; `bare` when passed through unchanged. */
export interface Src {
  readonly column: ColumnId;
  readonly bare: boolean;
}

/**
 * PostgreSQL's system columns, present on every table and never in the
 * catalog (attnum < 0): row versions and addresses, no user data. pg_dump
 * reads tableoid; ORMs use xmin as a concurrency token. No user column may
 * take these names, so they never shadow one.
 */
const PG_SYSTEM_COLUMNS = new Set(['tableoid', 'ctid', 'xmin', 'xmax', 'cmin', 'cmax']);

/** A named column of something in scope, with its lineage. */
interface RelColumn {
  readonly name: string;
  readonly sources: readonly Src[];
}

/** One FROM item (or CTE/derived/view) visible by name in a scope. */
interface Relation {
  /** Name used to qualify its columns (alias or table name). */
  readonly alias: string;
  /** The base table or view, when it is one (for `schema.table.col` and whole rows). */
  readonly table?: TableId;
  readonly columns: readonly RelColumn[];
  /** Not part of `*` (PostgreSQL `excluded`). */
  readonly noStar?: boolean;
  /** A set-returning function with unknown result columns: any qualified column reads these sources. */
  readonly opaque?: readonly Src[];
}

interface Scope {
  readonly rels: Relation[];
  /** USING/NATURAL columns: unqualified references resolve to the merged sources. */
  readonly merged: RelColumn[];
  /** Columns of each top-level FROM item in `*` order; undefined where unknown. */
  readonly starItems: (readonly RelColumn[] | undefined)[];
  readonly parent: Scope | undefined;
  readonly ctes: Map<string, CteDef>;
  /** Output columns of the query, for ORDER BY / GROUP BY / HAVING alias references. */
  outputs?: readonly (RelColumn & { readonly alias?: string })[];
}

interface CteDef {
  columns: readonly RelColumn[];
}

/** Everything session- and catalog-dependent the resolver needs. */
export interface ResolveContext {
  readonly dialect: Dialect;
  readonly catalog: Catalog;
  readonly database: string | undefined;
  readonly searchPath: readonly string[];
  /** Lowers a view definition in the same dialect; undefined when it cannot be parsed. */
  readonly parseView: (table: CatalogTable) => Query | undefined;
}

/** The lineage part of StatementFacts. */
export interface Resolution {
  readonly tablesRead: readonly TableId[];
  readonly outputs: readonly OutputColumn[];
  readonly reads: readonly ColumnRead[];
  readonly wholeRows: readonly TableId[];
  readonly writes: readonly WriteFacts[];
  readonly dynamic: readonly DynamicFacts[];
  readonly unresolved: Unresolved | undefined;
}

const MAX_VIEW_DEPTH = 8;

export class Resolver {
  readonly #ctx: ResolveContext;
  readonly #tablesRead = new Map<string, TableId>();
  readonly #reads = new Map<string, ColumnRead>();
  readonly #wholeRows = new Map<string, TableId>();
  readonly #dynamic = new Map<string, DynamicFacts>();
  readonly #writes: WriteFacts[] = [];
  #unresolved: Unresolved | undefined;
  /** Inside a view definition: its internal reads are the definer's, not the user's. */
  #viewDepth = 0;
  /** Relations whose columns were referenced while tracking (WHERE of a write). */
  #touched: Set<Relation> | undefined;
  #database: string | undefined;
  #searchPath: readonly string[];

  constructor(ctx: ResolveContext) {
    this.#ctx = ctx;
    this.#database = ctx.database;
    this.#searchPath = ctx.searchPath;
  }

  result(outputs: readonly OutputColumn[]): Resolution {
    return {
      tablesRead: [...this.#tablesRead.values()],
      outputs,
      reads: [...this.#reads.values()],
      wholeRows: [...this.#wholeRows.values()],
      writes: this.#writes,
      dynamic: [...this.#dynamic.values()],
      unresolved: this.#unresolved,
    };
  }

  fail(code: Unresolved['code'], message: string): void {
    this.#unresolved ??= { code, message };
  }

  /** Resolves a statement; returns its result columns (SELECT or RETURNING). */
  statement(stmt: RelStmt): OutputColumn[] {
    const root = newScope(undefined);
    if (stmt.kind === 'query') return toOutputs(this.#query(stmt.query, root));
    return toOutputs(this.#write(stmt, root));
  }

  /** A query whose result does not reach the client (CREATE VIEW AS, SET @x := ...): everything it outputs is read. */
  sideQuery(q: Query, place: ReadPlace = 'subquery'): void {
    const cols = this.#query(q, newScope(undefined));
    for (const c of cols) this.#readAll(c.sources, place);
  }

  /** Expressions outside any table (SET x = f(), CALL p(args)). */
  looseExpr(e: Expr): void {
    this.#readAll(this.#expr(e, newScope(undefined), 'other', false), 'other');
  }

  /** Functions called, reported as dynamic when not trusted. */
  #func(name: string): void {
    const trust = functionTrust(name);
    if (trust === 'safe') return;
    const kind = trust === 'file' ? 'file-function' : 'untrusted-function';
    this.#dynamic.set(`${kind}:${name}`, { kind, name });
  }

  addDynamic(d: DynamicFacts): void {
    this.#dynamic.set(`${d.kind}:${d.name ?? ''}`, d);
  }

  // ---------------------------------------------------------------- queries

  #query(q: Query, parent: Scope | undefined): RelColumn[] {
    const scope = newScope(parent);
    if (q.kind !== 'values' && q.with) this.#with(q.with, scope);
    switch (q.kind) {
      case 'values': {
        const width = Math.max(0, ...q.rows.map((r) => r.length));
        const cols: RelColumn[] = [];
        for (let i = 0; i < width; i++) {
          const sources: Src[] = [];
          for (const row of q.rows) if (row[i]) sources.push(...this.#expr(row[i], scope, 'output-expression', true));
          cols.push({ name: `column${i + 1}`, sources: dedupeSrc(sources) });
        }
        return cols;
      }
      case 'setop': {
        const left = this.#query(q.left, scope);
        const right = this.#query(q.right, scope);
        const cols: RelColumn[] = left.map((c, i) => ({ name: c.name, sources: dedupeSrc([...c.sources, ...(right[i]?.sources ?? [])]) }));
        for (const extra of right.slice(left.length)) cols.push(extra);
        scope.outputs = cols;
        for (const o of q.orderBy) this.#clause(o.expr, scope, 'order-by');
        for (const l of q.limitExprs ?? []) this.#clause(l, scope, 'other');
        return cols;
      }
      case 'select': {
        for (const f of q.from) this.#from(f, scope, parent);
        const outs: (RelColumn & { alias?: string })[] = [];
        for (const t of q.targets) outs.push(...this.#target(t, scope));
        scope.outputs = outs;
        if (q.where) this.#clause(q.where, scope, 'where');
        for (const g of q.groupBy) this.#clause(g, scope, 'group-by');
        if (q.having) this.#clause(q.having, scope, 'having');
        for (const w of q.windows) this.#clause(w, scope, 'window');
        for (const d of q.distinctOn ?? []) this.#clause(d, scope, 'order-by');
        // DISTINCT groups on every output: which values are equal shows even through a mask.
        if (q.distinct) for (const o of outs) this.#readAll(o.sources, 'group-by');
        for (const o of q.orderBy) this.#clause(o.expr, scope, 'order-by');
        for (const l of q.limitExprs ?? []) this.#clause(l, scope, 'other');
        if (q.into === 'variable' || q.into === 'outfile' || q.into === 'table') {
          // The values go somewhere other than the client: every output is a read.
          for (const o of outs) this.#readAll(o.sources, 'other');
          return outs.map((o) => ({ name: o.name, sources: o.sources.map(nonBare) }));
        }
        return outs;
      }
    }
  }

  #with(w: With, scope: Scope): void {
    for (const cte of w.ctes) this.#cte(cte, scope, w.recursive);
  }

  #cte(cte: Cte, scope: Scope, recursive: boolean): void {
    const rename = (cols: readonly RelColumn[]): RelColumn[] =>
      cols.map((c, i) => ({ name: cte.columns?.[i] ?? c.name, sources: c.sources }));
    const body = cte.body;
    if (body.kind !== 'select' && body.kind !== 'setop' && body.kind !== 'values') {
      scope.ctes.set(cte.name, { columns: rename(this.#write(body, scope)) });
      return;
    }
    if (!recursive || !refersTo(body, cte.name)) {
      scope.ctes.set(cte.name, { columns: rename(this.#query(body, scope)) });
      return;
    }
    // Recursive: seed with the non-recursive branch, then iterate until the
    // lineage stops growing (each round can carry columns one step further).
    const seed = body.kind === 'setop' ? this.#query(body.left, scope) : [];
    const def: CteDef = { columns: rename(seed) };
    scope.ctes.set(cte.name, def);
    for (let round = 0; round < 6; round++) {
      const next = rename(this.#query(body, scope));
      const before = def.columns.map((c) => c.sources.length).join(',');
      def.columns = next.map((c, i) => ({ name: c.name, sources: dedupeSrc([...c.sources, ...(def.columns[i]?.sources ?? [])]) }));
      if (def.columns.map((c) => c.sources.length).join(',') === before) break;
    }
  }

  #target(t: Target, scope: Scope): (RelColumn & { alias?: string })[] {
    const e = t.expr;
    if (e.kind === 'star') return this.#star(e.path, scope);
    if (e.kind === 'field' && e.field === '*') {
      // `(t).*` is one output per column of t: expand so positions line up.
      const rel = e.base.kind === 'column' ? this.#findRel(e.base.path, scope) : undefined;
      this.#expr(e, scope, 'whole-row', false);
      if (!rel || rel.opaque) {
        this.fail('UNRESOLVED_COLUMN', 'cannot tell how many columns (…).* expands to');
        return [];
      }
      return rel.columns.map((c) => ({ name: c.name, sources: c.sources.map(nonBare) }));
    }
    const sources = this.#expr(e, scope, 'output-expression', true);
    const bare = e.kind === 'column';
    return [{ name: t.alias ?? exprName(e), ...(t.alias !== undefined ? { alias: t.alias } : {}), sources: bare ? sources : sources.map(nonBare) }];
  }

  #star(path: readonly string[], scope: Scope): RelColumn[] {
    if (path.length === 0) {
      if (scope.starItems.length === 0) this.fail('UNRESOLVED_COLUMN', 'SELECT * without a FROM clause');
      const out: RelColumn[] = [];
      for (const item of scope.starItems) {
        // Result columns must line up with the server's, position by
        // position (masks are applied by index): refuse rather than guess.
        if (!item) { this.fail('UNRESOLVED_COLUMN', 'cannot expand * over a function whose result columns are unknown'); continue; }
        out.push(...item);
      }
      return out;
    }
    const rel = this.#findRel(path, scope);
    if (!rel) {
      this.fail('UNRESOLVED_TABLE', `unknown table ${path.join('.')} in ${path.join('.')}.*`);
      return [];
    }
    if (rel.opaque) this.fail('UNRESOLVED_COLUMN', `cannot expand ${path.join('.')}.* over a function whose result columns are unknown`);
    return [...rel.columns];
  }

  // ---------------------------------------------------------------- FROM

  /** Adds a FROM item's relations to the scope; returns its columns in `*` order (undefined: unknown). */
  #from(f: FromItem, scope: Scope, outer: Scope | undefined, top = true): RelColumn[] | undefined {
    const cols = this.#fromItem(f, scope, outer);
    if (top) scope.starItems.push(cols);
    return cols;
  }

  #fromItem(f: FromItem, scope: Scope, outer: Scope | undefined): RelColumn[] | undefined {
    switch (f.kind) {
      case 'table': {
        const rel = this.#tableRel(f.name, f.alias, f.columnAliases, scope);
        if (rel) scope.rels.push(rel);
        return rel ? [...rel.columns] : [];
      }
      case 'derived': {
        // A derived table sees the enclosing query's scope, and its FROM
        // siblings only when LATERAL.
        const cols = this.#query(f.query, f.lateral ? scope : outer);
        const rel = { alias: f.alias ?? '', columns: cols.map((c, i) => ({ name: f.columnAliases?.[i] ?? c.name, sources: c.sources })) };
        scope.rels.push(rel);
        return [...rel.columns];
      }
      case 'function': {
        const srcs = this.#expr(f.func, scope, 'function-arg', false).map(nonBare);
        const fname = f.func.kind === 'func' ? f.func.name.split('.').pop()! : 'function';
        const known = f.columnAliases !== undefined ? f.columnAliases : functionColumns(fname, f.alias, f.func);
        const alias = f.alias ?? fname;
        if (!known) {
          scope.rels.push({ alias, columns: [], opaque: srcs });
          return undefined;
        }
        const rel = { alias, columns: known.map((n) => ({ name: n, sources: srcs })) };
        scope.rels.push(rel);
        return [...rel.columns];
      }
      case 'join': {
        const left = this.#from(f.left, scope, outer, false);
        const right = this.#from(f.right, scope, outer, false);
        const d = this.#ctx.dialect;
        let using = f.using;
        if (f.natural) {
          if (!left || !right) { this.fail('UNRESOLVED_COLUMN', 'NATURAL join over a function whose result columns are unknown'); return undefined; }
          using = right.map((c) => c.name).filter((n) => left.some((l) => sameColumnName(d, l.name, n)));
        }
        if (!using || using.length === 0) {
          if (f.on) this.#clause(f.on, scope, 'join');
          return left && right ? [...left, ...right] : undefined;
        }
        const merged: RelColumn[] = [];
        for (const u of using) {
          const l = left?.filter((c) => sameColumnName(d, c.name, u)) ?? [];
          const r = right?.filter((c) => sameColumnName(d, c.name, u)) ?? [];
          if (l.length === 0 || r.length === 0) { this.fail('UNRESOLVED_COLUMN', `column ${u} in USING/NATURAL join not found on both sides`); continue; }
          const mergedSrc = dedupeSrc([...l, ...r].flatMap((c) => c.sources));
          // Joining is a comparison: both sides are read.
          this.#readAll(mergedSrc, 'join');
          const entry = { name: u, sources: mergedSrc };
          merged.push(entry);
          const i = scope.merged.findIndex((m) => sameColumnName(d, m.name, u));
          if (i >= 0) scope.merged[i] = entry; else scope.merged.push(entry);
        }
        if (f.on) this.#clause(f.on, scope, 'join');
        if (!left || !right) return undefined;
        const isUsing = (c: RelColumn) => using!.some((u) => sameColumnName(d, u, c.name));
        return [...merged, ...left.filter((c) => !isUsing(c)), ...right.filter((c) => !isUsing(c))];
      }
    }
  }

  #columnIn(name: string, rels: readonly Relation[], merged: readonly RelColumn[]): Src[] | undefined {
    const m = merged.find((c) => sameColumnName(this.#ctx.dialect, c.name, name));
    if (m) return [...m.sources];
    const hits = rels.flatMap((r) => r.columns.filter((c) => sameColumnName(this.#ctx.dialect, c.name, name)));
    return hits.length ? hits.flatMap((h) => h.sources) : undefined;
  }

  #findCte(name: string, scope: Scope): CteDef | undefined {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const exact = s.ctes.get(name);
      if (exact) return exact;
      if (this.#ctx.dialect === 'mysql') {
        for (const [n] of s.ctes) {
          if (n.toLowerCase() === name.toLowerCase()) {
            // Whether the server matches this CTE or a real table depends on its
            // case rules: refuse rather than guess.
            this.fail('UNRESOLVED_TABLE', `${name} differs from CTE ${n} only by case`);
          }
        }
      }
    }
    return undefined;
  }

  #tableRel(name: QName, alias: string | undefined, columnAliases: readonly string[] | undefined, scope: Scope): Relation | undefined {
    const rename = (cols: readonly RelColumn[]): RelColumn[] => cols.map((c, i) => ({ name: columnAliases?.[i] ?? c.name, sources: c.sources }));
    if (name.schema === undefined && name.database === undefined) {
      const cte = this.#findCte(name.name, scope);
      if (cte) return { alias: alias ?? name.name, columns: rename(cte.columns) };
    }
    const t = this.lookup(name);
    if (!t) return undefined;
    const id = tableId(t);
    this.#noteTableRead(id);
    const columns = t.kind === 'view' ? this.#viewColumns(t) : baseColumns(t);
    return { alias: alias ?? t.name, table: id, columns: rename(columns) };
  }

  /** Catalog lookup with the session's database and search path; fails closed. */
  lookup(name: QName): CatalogTable | undefined {
    const { catalog, dialect } = this.#ctx;
    if (dialect === 'postgres' && name.database !== undefined && this.#database !== undefined && name.database !== this.#database) {
      this.fail('UNRESOLVED_TABLE', `cross-database reference ${name.database}.${name.schema}.${name.name}`);
      return undefined;
    }
    const db = dialect === 'mysql' ? (name.database ?? name.schema ?? this.#database) : this.#database;
    if (dialect === 'mysql' && db === undefined) {
      this.fail('UNRESOLVED_TABLE', `table ${name.name} without a current database`);
      return undefined;
    }
    const t = catalog.lookup(db, dialect === 'mysql' ? db : name.schema, name.name, this.#searchPath);
    if (!t) this.fail('UNRESOLVED_TABLE', `unknown table ${[name.database, name.schema, name.name].filter((x) => x !== undefined).join('.')}`);
    return t;
  }

  #noteTableRead(id: TableId): void {
    this.#tablesRead.set(objectKey(id), id);
  }

  #viewColumns(t: CatalogTable): RelColumn[] {
    const id = tableId(t);
    const q = this.#viewDepth < MAX_VIEW_DEPTH ? this.#ctx.parseView(t) : undefined;
    if (!q) {
      this.fail('UNRESOLVED_TABLE', `view ${id.schema}.${id.table} could not be analysed`);
      return t.columns.map((c) => ({ name: c.name, sources: [] }));
    }
    const saved = { db: this.#database, path: this.#searchPath, touched: this.#touched };
    this.#viewDepth++;
    this.#database = t.database;
    this.#searchPath = this.#ctx.dialect === 'postgres' ? [t.schema, 'public'] : this.#searchPath;
    this.#touched = undefined;
    try {
      const cols = this.#query(q, undefined);
      return t.columns.map((c, i) => ({ name: c.name, sources: cols[i]?.sources ?? [] }));
    } finally {
      this.#viewDepth--;
      this.#database = saved.db;
      this.#searchPath = saved.path;
      this.#touched = saved.touched;
    }
  }

  // ---------------------------------------------------------------- expressions

  #clause(e: Expr, scope: Scope, place: ReadPlace): void {
    // ORDER BY 2 / GROUP BY 2 sort or group by the second output: an oracle like naming it.
    if (e.kind === 'literal' && e.ordinal !== undefined && (place === 'order-by' || place === 'group-by')) {
      const o = scope.outputs?.[e.ordinal - 1];
      if (o) this.#readAll(o.sources, place);
      return;
    }
    this.#readAll(this.#expr(e, scope, place, false), place);
  }

  #readAll(srcs: readonly Src[], place: ReadPlace): void {
    if (this.#viewDepth > 0) return;
    for (const s of srcs) this.#reads.set(`${objectKey(s.column)}\u0000${place}`, { column: s.column, place });
  }

  /**
   * The sources of an expression's value. Column references inside a larger
   * expression are recorded as reads at `place` (refined to function-arg /
   * aggregate / window / subquery); a bare top-level output column is not.
   */
  #expr(e: Expr, scope: Scope, place: ReadPlace, top: boolean): Src[] {
    switch (e.kind) {
      case 'literal':
      case 'param':
        return [];
      case 'column': {
        const srcs = this.#column(e.path, scope, place);
        if (!(top && place === 'output-expression')) this.#readAll(srcs, place);
        return srcs;
      }
      case 'star': {
        // `count(t.*)`, `row_to_json(t.*)`, `t.*` outside the select list: the whole row.
        const cols = this.#star(e.path, scope);
        const srcs = cols.flatMap((c) => c.sources);
        this.#wholeRow(e.path, scope);
        this.#readAll(srcs, 'whole-row');
        return srcs.map(nonBare);
      }
      case 'field': {
        const base = e.base;
        if (base.kind === 'column') {
          const rel = this.#findRel(base.path, scope);
          if (rel && !this.#hasColumn(base.path, scope)) {
            this.#wholeRow(base.path, scope);
            const srcs = rel.columns.flatMap((c) => c.sources);
            this.#readAll(srcs, 'whole-row');
            return srcs.map(nonBare);
          }
        }
        return this.#expr(base, scope, place, false).map(nonBare);
      }
      case 'func': {
        this.#func(e.name);
        const inner: ReadPlace = place === 'output-expression' || place === 'function-arg' ? (e.aggregate ? 'aggregate' : 'function-arg') : place;
        const out: Src[] = [];
        for (const a of e.args) out.push(...this.#expr(a, scope, inner, false));
        for (const w of e.window ?? []) this.#readAll(this.#expr(w, scope, 'window', false), 'window');
        return out.map(nonBare);
      }
      case 'op':
      case 'other': {
        if (e.kind === 'op' && e.op === 'ASSIGN') this.addDynamic({ kind: 'set-variable-from-query' });
        const out: Src[] = [];
        for (const a of e.args) out.push(...this.#expr(a, scope, place, false));
        return out.map(nonBare);
      }
      case 'subquery': {
        const out: Src[] = [];
        if (e.lhs) out.push(...this.#expr(e.lhs, scope, place, false));
        const cols = this.#query(e.query, scope);
        if (e.mode !== 'exists') {
          const srcs = cols.flatMap((c) => c.sources);
          this.#readAll(srcs, 'subquery');
          out.push(...srcs);
        }
        return out.map(nonBare);
      }
    }
  }

  #hasColumn(path: readonly string[], scope: Scope): boolean {
    if (path.length !== 1) return false;
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (s.merged.some((c) => sameColumnName(this.#ctx.dialect, c.name, path[0]))) return true;
      if (s.rels.some((r) => r.columns.some((c) => sameColumnName(this.#ctx.dialect, c.name, path[0])))) return true;
    }
    return false;
  }

  #wholeRow(path: readonly string[], scope: Scope): void {
    const rels = path.length === 0 ? scope.rels : [this.#findRel(path, scope)].filter((r): r is Relation => r !== undefined);
    for (const r of rels) {
      if (r.table && this.#viewDepth === 0) this.#wholeRows.set(objectKey(r.table), r.table);
      // A derived table or CTE: the whole row is every base column under it.
      if (!r.table && this.#viewDepth === 0) {
        for (const c of r.columns) for (const s of c.sources) {
          const t = { database: s.column.database, schema: s.column.schema, table: s.column.table };
          this.#wholeRows.set(objectKey(t), t);
        }
      }
    }
  }

  /** Finds the relation a qualifier names, innermost scope first. */
  #findRel(path: readonly string[], scope: Scope): Relation | undefined {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const r = s.rels.find((rel) => this.#relMatches(rel, path));
      if (r) return r;
    }
    return undefined;
  }

  #relMatches(rel: Relation, q: readonly string[]): boolean {
    if (q.length === 1) return rel.alias === q[0];
    if (!rel.table || rel.alias !== rel.table.table) return false;
    if (q.length === 2) return rel.table.schema === q[0] && rel.table.table === q[1];
    if (q.length === 3) return rel.table.database === q[0] && rel.table.schema === q[1] && rel.table.table === q[2];
    return false;
  }

  #column(path: readonly string[], scope: Scope, place: ReadPlace): Src[] {
    const d = this.#ctx.dialect;
    const name = path[path.length - 1];
    if (this.#touched) this.#touchTrack(path, scope);
    if (path.length === 1) {
      const aliasFirst = place === 'order-by' || place === 'group-by' || place === 'having';
      for (let s: Scope | undefined = scope; s; s = s.parent) {
        const hits: Src[] = [];
        let found = false;
        const m = s.merged.find((c) => sameColumnName(d, c.name, name));
        if (m) { hits.push(...m.sources); found = true; } else {
          for (const r of s.rels) for (const c of r.columns) {
            if (sameColumnName(d, c.name, name)) { hits.push(...c.sources); found = true; }
          }
        }
        if (s === scope && aliasFirst && s.outputs) {
          for (const o of s.outputs) if (sameColumnName(d, o.name, name)) { hits.push(...o.sources); found = true; }
        }
        if (found) return dedupeSrc(hits);
      }
      // PostgreSQL: a bare table name used as a value is the whole row.
      if (d === 'postgres') {
        const rel = this.#findRel(path, scope);
        if (rel) {
          this.#wholeRow(path, scope);
          const srcs = rel.columns.flatMap((c) => c.sources);
          this.#readAll(srcs, 'whole-row');
          return srcs.map(nonBare);
        }
      }
      // A system column of the one table in scope (PostgreSQL says "ambiguous" with several).
      if (d === 'postgres' && PG_SYSTEM_COLUMNS.has(name) && scope.rels.filter((r) => r.table).length === 1) return [];
      this.fail('UNRESOLVED_COLUMN', `unknown column ${name}`);
      return [];
    }
    const rel = this.#findRel(path.slice(0, -1), scope);
    if (!rel) {
      // PostgreSQL `(col).field` spelled `col.field` is not valid SQL; fail closed.
      this.fail('UNRESOLVED_COLUMN', `unknown table in ${path.join('.')}`);
      return [];
    }
    if (rel.opaque) return [...rel.opaque];
    const hits = rel.columns.filter((c) => sameColumnName(d, c.name, name));
    if (hits.length === 0 && d === 'postgres' && PG_SYSTEM_COLUMNS.has(name) && rel.table) return [];
    if (hits.length === 0) {
      this.fail('UNRESOLVED_COLUMN', `unknown column ${path.join('.')}`);
      return [];
    }
    return dedupeSrc(hits.flatMap((h) => h.sources));
  }

  #touchTrack(path: readonly string[], scope: Scope): void {
    const touched = this.#touched!;
    if (path.length > 1) {
      const r = this.#findRel(path.slice(0, -1), scope);
      if (r) touched.add(r);
      return;
    }
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      let hit = false;
      for (const r of s.rels) if (r.columns.some((c) => sameColumnName(this.#ctx.dialect, c.name, path[0]))) { touched.add(r); hit = true; }
      if (s.merged.some((c) => sameColumnName(this.#ctx.dialect, c.name, path[0]))) hit = true;
      if (hit) return;
    }
  }

  // ---------------------------------------------------------------- writes

  #write(w: WriteStmt, parent: Scope): RelColumn[] {
    const scope = newScope(parent);
    if (w.kind !== 'truncate' && w.with) this.#with(w.with, scope);
    switch (w.kind) {
      case 'insert': return this.#insert(w, scope);
      case 'update': return this.#update(w, scope);
      case 'delete': return this.#delete(w, scope);
      case 'merge': return this.#merge(w, scope);
      case 'truncate': return this.#truncate(w);
    }
  }

  #targetRel(name: QName, alias: string | undefined): Relation | undefined {
    const t = this.lookup(name);
    if (!t) return undefined;
    const id = tableId(t);
    const columns = t.kind === 'view' ? this.#viewColumns(t) : baseColumns(t);
    return { alias: alias ?? t.name, table: id, columns };
  }

  /** The written column, plus the base column behind it when the target is a view. */
  #targetColumn(rel: Relation, name: string): ColumnId[] {
    const c = rel.columns.find((x) => sameColumnName(this.#ctx.dialect, x.name, name));
    if (!c || !rel.table) {
      this.fail('UNRESOLVED_COLUMN', `unknown column ${name} in ${rel.alias}`);
      return [];
    }
    const own: ColumnId = { ...rel.table, column: c.name };
    const base = c.sources.filter((x) => objectKey(x.column) !== objectKey(own));
    return [own, ...base.map((x) => x.column)];
  }

  #returning(list: readonly Target[], scope: Scope): RelColumn[] {
    const outs: RelColumn[] = [];
    for (const t of list) {
      if (t.expr.kind === 'star') { outs.push(...this.#star(t.expr.path, scope)); continue; }
      const srcs = this.#expr(t.expr, scope, 'returning', true);
      outs.push({ name: t.alias ?? exprName(t.expr), sources: t.expr.kind === 'column' ? srcs : srcs.map(nonBare) });
    }
    return outs;
  }

  #insert(w: InsertStmt, scope: Scope): RelColumn[] {
    const rel = this.#targetRel(w.target, w.alias);
    const columns: ColumnId[] = [];
    if (rel) {
      const names = w.columns ?? rel.columns.map((c) => c.name);
      for (const n of names) columns.push(...this.#targetColumn(rel, n));
    }
    if (w.source) {
      // Data copied into the table is read: INSERT ... SELECT secret moves it.
      const cols = this.#query(w.source, scope);
      for (const c of cols) this.#readAll(c.sources, 'set');
    }
    if (rel) {
      scope.rels.push(rel);
      scope.starItems.push(rel.columns);
      if (this.#ctx.dialect === 'postgres') scope.rels.push({ alias: 'excluded', columns: rel.columns, noStar: true });
    }
    if (w.upsert) {
      for (const s of w.upsert.sets) {
        if (rel) for (const c of this.#targetColumn(rel, s.column)) if (!columns.some((x) => objectKey(x) === objectKey(c))) columns.push(c);
        this.#clause(s.value, scope, 'set');
      }
      if (w.upsert.where) this.#clause(w.upsert.where, scope, 'where');
    }
    const returning = this.#returning(w.returning, scope);
    const kind = w.replace ? 'replace' : w.upsert && w.upsert.sets.length > 0 ? 'upsert' : 'insert';
    if (rel?.table) this.#writes.push({ kind, target: rel.table, columns, truncate: false, hasWhere: false, hasLimit: false, alwaysTrue: false, whereTouchesTarget: false });
    return returning;
  }

  #assign(sets: readonly Assignment[], scope: Scope, targets: readonly Relation[]): Map<Relation, ColumnId[]> {
    const written = new Map<Relation, ColumnId[]>();
    for (const s of sets) {
      let rel: Relation | undefined;
      if (s.qualifier !== undefined) rel = targets.find((r) => this.#relMatches(r, [s.qualifier!]));
      else rel = targets.find((r) => r.columns.some((c) => sameColumnName(this.#ctx.dialect, c.name, s.column))) ;
      if (!rel || !rel.table) { this.fail('UNRESOLVED_COLUMN', `cannot tell which table column ${s.qualifier ? s.qualifier + '.' : ''}${s.column} belongs to`); }
      else {
        const cs = this.#targetColumn(rel, s.column);
        if (cs.length) { const l = written.get(rel) ?? []; l.push(...cs); written.set(rel, l); }
      }
      this.#clause(s.value, scope, 'set');
    }
    return written;
  }

  #whereFacts(where: Expr | undefined, scope: Scope): { hasWhere: boolean; alwaysTrue: boolean; touches: Set<Relation> } {
    const touched = new Set<Relation>();
    if (where) {
      this.#touched = touched;
      try { this.#clause(where, scope, 'where'); } finally { this.#touched = undefined; }
    }
    return { hasWhere: where !== undefined, alwaysTrue: where !== undefined && alwaysTrue(where), touches: touched };
  }

  #update(w: UpdateStmt, scope: Scope): RelColumn[] {
    const before = scope.rels.length;
    for (const f of [...w.tables, ...w.from]) this.#from(f, scope, scope.parent);
    const rels = scope.rels.slice(before);
    const candidates = rels.filter((r) => r.table);
    const where = this.#whereFacts(w.where, scope);
    const written = this.#assign(w.sets, scope, w.kind === 'update' && this.#ctx.dialect === 'postgres' ? candidates.slice(0, 1) : candidates);
    for (const o of w.orderBy) this.#clause(o.expr, scope, 'order-by');
    const returning = this.#returning(w.returning, scope);
    const targets = written.size ? [...written.keys()] : candidates.slice(0, 1);
    for (const rel of targets) {
      this.#writes.push({
        kind: 'update', target: rel.table!, columns: written.get(rel) ?? [], truncate: false,
        hasWhere: where.hasWhere, hasLimit: w.limit, alwaysTrue: where.alwaysTrue, whereTouchesTarget: where.touches.has(rel),
      });
    }
    this.#untrackTargets(targets, rels);
    return returning;
  }

  /** A write target is not a read unless it also appears as a plain FROM item. */
  #untrackTargets(targets: readonly Relation[], rels: readonly Relation[]): void {
    for (const t of targets) {
      if (!t.table) continue;
      const alsoRead = rels.some((r) => r !== t && r.table && objectKey(r.table) === objectKey(t.table!));
      if (!alsoRead) this.#tablesRead.delete(objectKey(t.table));
    }
  }

  #delete(w: DeleteStmt, scope: Scope): RelColumn[] {
    const before = scope.rels.length;
    for (const f of w.from) this.#from(f, scope, scope.parent);
    const rels = scope.rels.slice(before);
    const targets: Relation[] = [];
    for (const t of w.targets) {
      const path = [t.database, t.schema, t.name].filter((x): x is string => x !== undefined);
      const r = rels.find((rel) => this.#relMatches(rel, path)) ?? rels.find((rel) => rel.table?.table === t.name);
      if (!r || !r.table) this.fail('UNRESOLVED_TABLE', `DELETE target ${path.join('.')} is not in FROM`);
      else targets.push(r);
    }
    const where = this.#whereFacts(w.where, scope);
    for (const o of w.orderBy) this.#clause(o.expr, scope, 'order-by');
    const returning = this.#returning(w.returning, scope);
    for (const rel of targets) {
      this.#writes.push({
        kind: 'delete', target: rel.table!, columns: [], truncate: false,
        hasWhere: where.hasWhere, hasLimit: w.limit, alwaysTrue: where.alwaysTrue, whereTouchesTarget: where.touches.has(rel),
      });
    }
    this.#untrackTargets(targets, rels);
    return returning;
  }

  #merge(w: MergeStmt, scope: Scope): RelColumn[] {
    this.#from(w.target, scope, scope.parent);
    const target = scope.rels[scope.rels.length - 1];
    this.#from(w.source, scope, scope.parent);
    const rels = scope.rels.slice();
    const touched = new Set<Relation>();
    this.#touched = touched;
    try { this.#clause(w.on, scope, 'join'); } finally { this.#touched = undefined; }
    for (const c of w.conditions) this.#clause(c, scope, 'where');
    const written = target?.table ? this.#assign(w.sets, scope, [target]) : new Map<Relation, ColumnId[]>();
    const cols = written.get(target) ?? [];
    for (const v of w.insertValues) this.#clause(v, scope, 'set');
    if (target?.table) {
      for (const n of w.insertColumns) cols.push(...this.#targetColumn(target, n));
      this.#writes.push({ kind: 'merge', target: target.table, columns: cols, truncate: false, hasWhere: true, hasLimit: false, alwaysTrue: alwaysTrue(w.on), whereTouchesTarget: touched.has(target) });
      this.#untrackTargets([target], rels);
    }
    return [];
  }

  #truncate(w: TruncateStmt): RelColumn[] {
    for (const n of w.targets) {
      const t = this.lookup(n);
      if (t) this.#writes.push({ kind: 'truncate', target: tableId(t), columns: [], truncate: true, hasWhere: false, hasLimit: false, alwaysTrue: false, whereTouchesTarget: false });
    }
    return [];
  }
}

// ---------------------------------------------------------------- helpers

function newScope(parent: Scope | undefined): Scope {
  return { rels: [], merged: [], starItems: [], parent, ctes: new Map() };
}

function nonBare(s: Src): Src {
  return s.bare ? { column: s.column, bare: false } : s;
}

function dedupeSrc(list: readonly Src[]): Src[] {
  const m = new Map<string, Src>();
  for (const s of list) {
    const k = objectKey(s.column);
    const prev = m.get(k);
    // Bare only if every path to it is bare.
    m.set(k, prev ? { column: s.column, bare: prev.bare && s.bare } : s);
  }
  return [...m.values()];
}

/**
 * A base table's columns as a relation sees them, each its own source. Built
 * once per catalog table (every statement naming the table used to build
 * them afresh); shared, so never modified.
 */
const tableColumns = new WeakMap<CatalogTable, readonly RelColumn[]>();

function baseColumns(t: CatalogTable): readonly RelColumn[] {
  let cols = tableColumns.get(t);
  if (!cols) {
    const id = tableId(t);
    cols = Object.freeze(t.columns.map((c) => Object.freeze({ name: c.name, sources: Object.freeze([Object.freeze({ column: Object.freeze({ ...id, column: c.name }), bare: true })]) })));
    tableColumns.set(t, cols);
  }
  return cols;
}

export function tableId(t: CatalogTable): TableId {
  return { database: t.database, schema: t.schema, table: t.name };
}

function toOutputs(cols: readonly RelColumn[]): OutputColumn[] {
  return cols.map((c, index) => ({ index, name: c.name, sources: c.sources }));
}

/** Result columns of set-returning functions whose shape is fixed; undefined when unknown. */
function functionColumns(fname: string, alias: string | undefined, func: Expr): string[] | undefined {
  const n = fname.toLowerCase();
  if (n === 'json_each' || n === 'jsonb_each' || n === 'json_each_text' || n === 'jsonb_each_text') return ['key', 'value'];
  // Catalog helpers that pg_dump and psql call in FROM.
  if (n === 'pg_options_to_table' || n === 'pg_catalog.pg_options_to_table') return ['option_name', 'option_value'];
  if (n === 'aclexplode' || n === 'pg_catalog.aclexplode') return ['grantor', 'grantee', 'privilege_type', 'is_grantable'];
  const single = ['generate_series', 'generate_subscripts', 'regexp_split_to_table', 'jsonb_array_elements', 'jsonb_array_elements_text',
    'json_array_elements', 'json_array_elements_text', 'jsonb_object_keys', 'json_object_keys', 'string_to_table', 'dual'];
  if (single.includes(n)) return n === 'dual' ? [] : [alias ?? fname];
  if (n === 'unnest' && func.kind === 'func' && func.args.length === 1) return [alias ?? fname];
  // Scalar functions in FROM are one column named after the function or the alias (TypeORM: SELECT * FROM current_schema()).
  if (SCALAR_IN_FROM.has(n.replace(/^pg_catalog\./, ''))) return [alias ?? fname];
  return undefined;
}

/** Functions known to return one scalar value: named one by one, since a wrong column count would shift masks. */
const SCALAR_IN_FROM = new Set(['current_schema', 'current_database', 'current_user', 'session_user', 'current_role', 'version', 'now',
  'pg_backend_pid', 'pg_postmaster_start_time', 'pg_is_in_recovery', 'txid_current', 'current_setting', 'timeofday', 'clock_timestamp',
  'statement_timestamp', 'transaction_timestamp']);

function exprName(e: Expr): string {
  switch (e.kind) {
    case 'column': return e.path[e.path.length - 1];
    case 'func': return e.name.split('.').pop()!;
    case 'field': return e.field === '*' ? '*' : e.field;
    // PostgreSQL's naming: a cast keeps its argument's name, a scalar subquery its output's.
    case 'op': return e.op === 'CAST' && e.args.length === 1 ? exprName(e.args[0]) : e.op === 'CASE' ? 'case' : '?column?';
    case 'subquery': {
      if (e.mode === 'exists') return 'exists';
      if (e.mode === 'array') return 'array';
      const q = e.query;
      if (q.kind === 'select' && q.targets.length === 1) return q.targets[0].alias ?? exprName(q.targets[0].expr);
      return '?column?';
    }
    default: return '?column?';
  }
}

/** Does a query mention a table name (for recursive CTE detection)? */
function refersTo(q: Query, name: string): boolean {
  return JSON.stringify(q).includes(JSON.stringify(name));
}

/**
 * Always true whatever the literals are. Decisions must not depend on
 * literal values (the MySQL digest cache keys on the statement shape), so any
 * predicate with no column reference at all counts as always true, as does
 * a comparison of an expression with itself.
 */
export function alwaysTrue(e: Expr): boolean {
  if (isConstant(e)) { const v = constantValue(e); return v !== false && v !== null; }
  if (e.kind === 'op') {
    switch (e.op) {
      case 'OR': return e.args.some(alwaysTrue) || nullOrNot(e.args);
      case 'AND': return e.args.length > 0 && e.args.every(alwaysTrue);
      case 'NOT': return e.args.length === 1 && alwaysFalse(e.args[0]);
      case '=': case '>=': case '<=': case '<=>': case 'IS NOT DISTINCT FROM': case 'LIKE': case 'ILIKE': case 'IN':
        return e.args.length === 2 && sameExpr(e.args[0], e.args[1]);
      case 'IS NOT NULL': case 'IS TRUE': case 'IS NOT FALSE':
        return e.args.length === 1 && isConstant(e.args[0]) && constantValue(e.args[0]) !== null;
      default: return false;
    }
  }
  return false;
}

/**
 * `x IS NULL OR x IS NOT NULL` (either order, among other branches): every
 * row is one or the other. PostgreSQL's tree has the test as one operator;
 * MySQL's as `x IS NULL` / `x IS NOT NULL` with a NULL operand.
 */
function nullOrNot(or: readonly Expr[]): boolean {
  // MySQL's tree nests a OR b OR c two at a time.
  const flat = (bs: readonly Expr[]): Expr[] => bs.flatMap((b) => (b.kind === 'op' && b.op === 'OR' ? flat(b.args) : [b]));
  const branches = flat(or);
  const operand = (b: Expr, not: boolean): Expr | undefined => {
    if (b.kind !== 'op') return undefined;
    if (b.op === (not ? 'IS NOT NULL' : 'IS NULL') && b.args.length === 1) return b.args[0];
    const nullLiteral = b.args[1]?.kind === 'literal' && b.args[1].value === null;
    return b.op === (not ? 'IS NOT' : 'IS') && b.args.length === 2 && nullLiteral ? b.args[0] : undefined;
  };
  const isNull = branches.map((b) => operand(b, false)).filter((x): x is Expr => x !== undefined);
  const notNull = branches.map((b) => operand(b, true)).filter((x): x is Expr => x !== undefined);
  return isNull.some((x) => notNull.some((y) => sameExpr(x, y)));
}

function alwaysFalse(e: Expr): boolean {
  if (isConstant(e)) return constantValue(e) === false || constantValue(e) === null;
  if (e.kind === 'op') {
    if (e.op === 'NOT') return e.args.length === 1 && alwaysTrue(e.args[0]);
    if (e.op === 'AND') return e.args.some(alwaysFalse);
    if (e.op === 'OR') return e.args.every(alwaysFalse);
    if (e.op === '<>' || e.op === '!=' || e.op === '<' || e.op === '>') return e.args.length === 2 && sameExpr(e.args[0], e.args[1]);
  }
  return false;
}

function isConstant(e: Expr): boolean {
  switch (e.kind) {
    case 'literal': case 'param': return true;
    case 'op': case 'other': return e.args.every(isConstant);
    case 'func': return !e.aggregate && e.args.every(isConstant) && functionTrust(e.name) === 'safe';
    default: return false;
  }
}

/** Only the boolean keywords are evaluated: numbers and strings are treated as unknown (possibly true). */
function constantValue(e: Expr): boolean | null | undefined {
  if (e.kind === 'literal') return e.value;
  if (e.kind === 'op' && e.op === 'NOT' && e.args.length === 1) {
    const v = constantValue(e.args[0]);
    return v === true ? false : v === false ? true : v === null ? null : undefined;
  }
  return undefined;
}

/**
 * Every constant alike: a literal's value (TRUE, NULL, an integer ordinal) and
 * whether it is a literal or a parameter are left out of the comparison.
 */
function constantsAlike(k: string, v: unknown): unknown {
  if (k === 'ordinal' || k === 'value') return undefined;
  return v !== null && typeof v === 'object' && (v as { kind?: unknown }).kind === 'param' ? { kind: 'literal' } : v;
}

/** Arithmetic with a constant on one side: `id + 0`, `1 * id`, `id - ?` are `id` shifted or scaled. */
const CONSTANT_ARITHMETIC = new Set(['+', '-', '*', '/', 'DIV', '%', 'MOD']);

/** An expression without the arithmetic it does with constants: `id + 0`, `(id * 1) - ?` → `id`. */
function withoutConstantArithmetic(e: Expr): Expr {
  while (e.kind === 'op' && CONSTANT_ARITHMETIC.has(e.op) && e.args.length === 2) {
    if (isConstant(e.args[1]) && !isConstant(e.args[0])) e = e.args[0];
    else if (isConstant(e.args[0]) && !isConstant(e.args[1]) && (e.op === '+' || e.op === '*')) e = e.args[1];
    else break;
  }
  return e;
}

function sameExpr(x: Expr, y: Expr): boolean {
  // The outcome must not depend on constants (`a + 1 = a + 2` and `a = a + 0`
  // count as the same expression, the stricter reading), nor on whether one
  // is a parameter: `a + ? = a + 0` deletes every row when 0 is bound, and a
  // statement with a parameter shares its MySQL digest with one that has a
  // literal there.
  const a = withoutConstantArithmetic(x);
  const b = withoutConstantArithmetic(y);
  if (a.kind !== 'column' || b.kind !== 'column') return JSON.stringify(a, constantsAlike) === JSON.stringify(b, constantsAlike) && !isConstant(a);
  return a.path[a.path.length - 1].toLowerCase() === b.path[b.path.length - 1].toLowerCase()
    && (a.path.length === 1 || b.path.length === 1 || a.path.join('.') === b.path.join('.'));
}
