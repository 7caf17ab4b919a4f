/**
 * The compiled policy index: for one (policy version, user, instance) the
 * grants, labels and masks that can apply, as matchers, with per-object
 * answers memoised. Built once per policy object and reused by every
 * statement of every session until the policy is reloaded.
 *
 * Name matching: grants follow the dialect (PostgreSQL names are exact — the
 * analysis already folded unquoted ones; MySQL column names are
 * case-insensitive, database and table names as the server stores them).
 * Labels and masks match case-insensitively in both dialects: a spelling
 * slip in the policy must over-protect, never silently unprotect.
 */
import type { Dialect, ColumnId, TableId } from '../facts.js';
import type { Mask, Policy, Privilege, StatementKind } from '../../rules/policy-schema.js';
import type { Principal } from '../../rules/principal.js';
import { READ_ONLY_KINDS } from '../../rules/statement-kinds.js';
import { effectiveLimits } from '../../rules/limits.js';

type Matcher = (value: string) => boolean;

const ALL_PRIVS: readonly Privilege[] = ['select', 'insert', 'update', 'delete', 'ddl'];

function matcher(pattern: string, caseInsensitive: boolean): Matcher {
  if (pattern === '*') return () => true;
  if (!pattern.includes('*')) {
    if (!caseInsensitive) return (v) => v === pattern;
    const p = pattern.toLowerCase();
    return (v) => v.toLowerCase() === p;
  }
  const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', caseInsensitive ? 'i' : '');
  return (v) => re.test(v);
}

interface ObjectMatch {
  readonly db: Matcher;
  readonly schema: Matcher;
  readonly table: Matcher;
}

function objectMatch(dialect: Dialect, o: { database: string; schema: string; table: string }, ci: boolean): ObjectMatch {
  return {
    db: matcher(o.database, ci),
    // MySQL has no schema level: its database is its schema.
    schema: dialect === 'mysql' ? () => true : matcher(o.schema, ci),
    table: matcher(o.table, ci),
  };
}

function tableMatches(m: ObjectMatch, t: TableId): boolean {
  return m.table(t.table) && m.db(t.database) && m.schema(t.schema);
}

interface CompiledGrant extends ObjectMatch {
  /** undefined: the whole table. */
  readonly columns: readonly { readonly pattern: string; readonly match: Matcher }[] | undefined;
  readonly privileges: ReadonlySet<Privilege>;
  readonly explicitTable: boolean;
}

interface CompiledLabel extends ObjectMatch {
  readonly column: { readonly pattern: string; readonly match: Matcher } | undefined;
  readonly level: number;
}

interface CompiledMask extends ObjectMatch {
  readonly column: Matcher;
  readonly mask: Mask;
}

/** Memoised answers for one table, and for its columns by name. */
interface TableAnswers {
  privileges?: ReadonlySet<Privilege>;
  whole?: ReadonlySet<Privilege>;
  readonly columns: Map<string, ColumnAnswers>;
}

interface ColumnAnswers {
  privileges?: ReadonlySet<Privilege>;
  label?: number;
  mask?: Mask | null;
}

/**
 * Answers per (database, schema, table[, column]) in nested maps: a lookup
 * hashes names the analysis already holds, where a joined key string would be
 * built and hashed anew for every column of every statement. Statements can
 * name tables at will, so the memo is dropped when it grows past a bound.
 */
class AnswerMemo {
  private root = new Map<string, Map<string, Map<string, TableAnswers>>>();
  private size = 0;

  table(t: TableId): TableAnswers {
    let schemas = this.root.get(t.database);
    if (!schemas) {
      if (this.size >= MEMO_LIMIT) this.clear();
      this.root.set(t.database, (schemas = new Map()));
    }
    let tables = schemas.get(t.schema);
    if (!tables) schemas.set(t.schema, (tables = new Map()));
    let a = tables.get(t.table);
    if (!a) {
      if (++this.size > MEMO_LIMIT) { this.clear(); return this.table(t); }
      tables.set(t.table, (a = { columns: new Map() }));
    }
    return a;
  }

  column(c: ColumnId): ColumnAnswers {
    const columns = this.table(c).columns;
    let a = columns.get(c.column);
    if (!a) {
      if (++this.size > MEMO_LIMIT) { this.clear(); return this.column(c); }
      columns.set(c.column, (a = {}));
    }
    return a;
  }

  private clear(): void {
    this.root = new Map();
    this.size = 0;
  }
}

/** Tables plus columns memoised per principal before the memo starts over. */
const MEMO_LIMIT = 50_000;

function expand(privs: readonly Privilege[]): Set<Privilege> {
  return new Set(privs.includes('all') ? ALL_PRIVS : privs);
}

function compilePrincipal(policy: Policy, userName: string, instanceName: string): Principal | undefined {
  const user = policy.users[userName];
  const instance = policy.instances[instanceName];
  if (!user || !instance) return undefined;
  const dialect: Dialect = instance.protocol === 'mysql' ? 'mysql' : 'postgres';
  const inInstance = (p: string) => matcher(p, false)(instanceName);
  const roleNames = user.roles.filter((r) => policy.roles[r] !== undefined);
  const roles = roleNames.map((r) => policy.roles[r]);

  const grants: CompiledGrant[] = [];
  for (const role of roles) {
    for (const g of role.grants) {
      if (!inInstance(g.instance)) continue;
      const om = objectMatch(dialect, g, false);
      const columns = g.columns?.some((c) => c === '*') ? undefined
        : g.columns?.map((c) => ({ pattern: c, match: matcher(c, dialect === 'mysql') }));
      grants.push({ ...om, columns, privileges: expand(g.privileges), explicitTable: !g.table.includes('*') });
    }
  }
  const labels: CompiledLabel[] = policy.labels.filter((l) => inInstance(l.instance)).map((l) => ({
    ...objectMatch(dialect, l, true),
    column: l.column === undefined ? undefined : { pattern: l.column, match: matcher(l.column, true) },
    level: l.level,
  }));
  const userRoles = new Set(roleNames);
  const masks: CompiledMask[] = policy.masking
    .filter((m) => inInstance(m.instance))
    .filter((m) => (m.roles === undefined || m.roles.some((r) => userRoles.has(r))) && !m.exempt_roles.some((r) => userRoles.has(r)))
    .map((m) => ({ ...objectMatch(dialect, m, true), column: matcher(m.column, true), mask: m }));

  const unqualifiedTables: ObjectMatch[] = roles.flatMap((r) => r.unqualified_dml_tables.filter((t) => inInstance(t.instance)).map((t) => objectMatch(dialect, t, dialect === 'mysql')));

  const kinds = new Set<StatementKind>();
  for (const role of roles) for (const k of role.statement_kinds ?? READ_ONLY_KINDS) kinds.add(k);
  if (roles.length === 0) for (const k of READ_ONLY_KINDS) kinds.add(k);

  const memo = new AnswerMemo();

  const principal: Principal = {
    user: userName,
    definition: user,
    instanceName,
    instance,
    dialect,
    roles: roleNames,
    kinds,
    procedures: roles.flatMap((r) => r.procedures),
    fileIo: roles.some((r) => r.allow_file_io),
    maySkip: new Set(roles.flatMap((r) => r.may_skip)),
    ddlAnywhere: grants.some((g) => g.columns === undefined && g.privileges.has('ddl')),
    readsEverything: roles.some((r) => r.grants.some((g) => inInstance(g.instance) && g.database === '*' && g.table === '*'
      && (dialect === 'mysql' || g.schema === '*') && (g.columns === undefined || g.columns.includes('*')) && expand(g.privileges).has('select')))
      && masks.length === 0
      && (!instance.label_security || labels.every((l) => l.level <= user.clearance)),
    limits: effectiveLimits(policy.limits, instance.limits, user.limits),
    privileges(c) {
      const a = memo.column(c);
      let s = a.privileges;
      if (!s) {
        const out = new Set<Privilege>();
        for (const g of grants) {
          if (!tableMatches(g, c)) continue;
          if (g.columns && !g.columns.some((x) => x.match(c.column))) continue;
          for (const p of g.privileges) out.add(p);
        }
        a.privileges = s = out;
      }
      return s;
    },
    tablePrivileges(t) {
      const a = memo.table(t);
      let s = a.privileges;
      if (!s) {
        const out = new Set<Privilege>();
        for (const g of grants) if (tableMatches(g, t)) for (const p of g.privileges) out.add(p);
        a.privileges = s = out;
      }
      return s;
    },
    wholeTablePrivileges(t) {
      const a = memo.table(t);
      let s = a.whole;
      if (!s) {
        const out = new Set<Privilege>();
        for (const g of grants) if (!g.columns && tableMatches(g, t)) for (const p of g.privileges) out.add(p);
        a.whole = s = out;
      }
      return s;
    },
    explicitColumnGrant(c, priv) {
      return grants.some((g) => g.explicitTable && g.privileges.has(priv) && tableMatches(g, c)
        && g.columns !== undefined && g.columns.some((x) => !x.pattern.includes('*') && x.match(c.column)));
    },
    explicitTableGrant(t, priv) {
      return grants.some((g) => g.explicitTable && g.privileges.has(priv) && tableMatches(g, t));
    },
    columnLabel(c) {
      const a = memo.column(c);
      let level = a.label;
      if (level === undefined) {
        level = 0;
        for (const l of labels) if (l.column && l.level > level && l.column.match(c.column) && tableMatches(l, c)) level = l.level;
        a.label = level;
      }
      return level;
    },
    tableLabel(t) {
      let level = 0;
      for (const l of labels) if (!l.column && l.level > level && tableMatches(l, t)) level = l.level;
      return level;
    },
    columnLabelsOf(t) {
      return labels.filter((l) => l.column && tableMatches(l, t)).map((l) => ({ column: l.column!.pattern.includes('*') ? '*' : l.column!.pattern, level: l.level }));
    },
    mask(c) {
      const a = memo.column(c);
      let m = a.mask;
      if (m === undefined) {
        m = masks.find((x) => x.column(c.column) && tableMatches(x, c))?.mask ?? null;
        a.mask = m;
      }
      return m ?? undefined;
    },
    unqualifiedDmlAllowed(t) {
      return unqualifiedTables.some((m) => tableMatches(m, t));
    },
    masksTable(t) {
      return masks.some((x) => tableMatches(x, t));
    },
  };
  return principal;
}

const compiled = new WeakMap<Policy, Map<string, Map<string, Principal | null>>>();

/**
 * The principal for a user on an instance under this policy, or undefined
 * when either is unknown. Cached per policy object: a reload makes a new one.
 */
export function principalFor(policy: Policy, user: string, instance: string): Principal | undefined {
  let byUser = compiled.get(policy);
  if (!byUser) compiled.set(policy, (byUser = new Map()));
  let byInstance = byUser.get(user);
  if (!byInstance) byUser.set(user, (byInstance = new Map()));
  let p = byInstance.get(instance);
  if (p === undefined) {
    p = compilePrincipal(policy, user, instance) ?? null;
    byInstance.set(instance, p);
  }
  return p ?? undefined;
}
