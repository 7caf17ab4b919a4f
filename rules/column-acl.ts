/**
 * column-acl: table and column grants, per privilege. A grant without a
 * column list covers the whole table, columns added later included; grants
 * from every role merge. Every place a column is read needs `select` on it
 * (a predicate is as good as a select list to an attacker); written columns
 * need insert/update; DELETE needs delete on the table; DDL needs ddl.
 *
 * A bare output of a column without a grant is not refused here when a
 * masking rule covers it for this user and the user may read the table:
 * the masking rule then shows it masked (DESIGN.md decision 3).
 */
import type { Privilege } from './policy-schema.js';
import type { ColumnId, TableId } from '../governance/facts.js';
import { columnAccesses, placeWords } from './column-access.js';
import { showColumn, showTable } from './principal.js';
import { allWrites, result, type Refusal, type RuleInput, type RuleResult } from './rule.js';
import { MYSQL_ACCOUNT_SHOWS, MYSQL_PROCESSLIST, MYSQL_SESSION_SHOWS, MYSQL_USER_TABLE, freelyReadable, visibleSystemTable } from './system-objects.js';

export const id = 'column-acl';

/**
 * DDL that leaves code behind, which later runs with the service account's
 * rights without being judged: functions, procedures, triggers, events,
 * rules, extensions, languages, casts, transforms, aggregates, operators.
 */
const CODE_DDL = /^(create|alter)_(function|procedure|trig|trigger|event|event_trig|rule|extension|extension_contents|plang|language|cast|transform|aggregate|operator|op_class|op_family|conversion)$|^(rule|define)$/;

/**
 * DDL without a table target that creates or changes containers and plain
 * definitions only; every other untargeted DDL reaches further than the
 * analysis follows (ALTER SCHEMA ... RENAME moves every table in it, foreign
 * tables and servers reach other databases).
 */
const PLAIN_DDL = new Set([
  'create_schema', 'createdb', 'dropdb', 'comment', 'create_seq', 'alter_seq', 'create_domain', 'create_enum', 'alter_enum',
  'create_range', 'reindex', 'cluster', 'refresh_mat_view',
  'create_database', 'alter_database', 'alter_schema', 'create_sequence', 'alter_sequence',
]);

export function check({ facts, principal, context }: RuleInput): RuleResult {
  const r = result();
  const d = facts.dialect;
  const seen = new Set<string>();
  const deny = (x: Refusal, detail: string) => {
    if (seen.has(x.text)) return;
    seen.add(x.text);
    r.refusals.push(x);
    r.outcomes.push({ rule: id, outcome: 'deny', detail });
  };
  // (The principal memoises table privileges per table.)
  const canSeeTable = (t: TableId): boolean => visibleSystemTable(d, t) || principal.tablePrivileges(t).has('select');
  const tableDenied = (t: TableId, priv: Privilege) =>
    deny({ rule: id, code: 'TABLE_ACCESS_DENIED', text: `no ${priv} privilege on table ${showTable(d, t)}` }, `${priv} on ${showTable(d, t)}: no grant`);

  for (const t of facts.tablesRead) if (!canSeeTable(t)) tableDenied(t, 'select');
  if (d === 'mysql' && facts.kind === 'show' && MYSQL_SESSION_SHOWS.has(facts.verb) && !principal.tablePrivileges(MYSQL_PROCESSLIST).has('select')) {
    deny({ rule: id, code: 'TABLE_ACCESS_DENIED', text: `${facts.verb.replace('_', ' ').toUpperCase()} shows other sessions' statements (every user shares the service account): it needs select on information_schema.PROCESSLIST` },
      `${facts.verb}: no select on information_schema.PROCESSLIST`);
  }
  if (d === 'mysql' && facts.kind === 'show' && MYSQL_ACCOUNT_SHOWS.has(facts.verb) && !principal.tablePrivileges(MYSQL_USER_TABLE).has('select')) {
    deny({ rule: id, code: 'TABLE_ACCESS_DENIED', text: `${facts.verb.replace(/_/g, ' ').toUpperCase()} shows database accounts' password hashes (every user shares the service account): it needs select on mysql.user` },
      `${facts.verb}: no select on mysql.user`);
  }

  const { columns, unexpandedWholeRows } = columnAccesses(facts, context);
  let masked = 0;
  for (const a of columns) {
    const c: ColumnId = a.column;
    if (freelyReadable(d, c)) continue;
    if (!canSeeTable(c)) { tableDenied(c, 'select'); continue; }
    if (principal.privileges(c).has('select')) continue;
    if (a.bare && principal.mask(c)) { masked++; continue; }
    deny({ rule: id, code: 'COLUMN_ACCESS_DENIED', text: `no select privilege on column ${showColumn(d, c)} (read in ${placeWords(a.place)})` },
      `select on ${showColumn(d, c)} in ${a.place}: no grant`);
  }
  for (const { table } of unexpandedWholeRows) {
    if (freelyReadable(d, table)) continue;
    if (!principal.wholeTablePrivileges(table).has('select')) {
      deny({ rule: id, code: 'COLUMN_ACCESS_DENIED', text: `a whole-row reference to ${showTable(d, table)} needs select on every column of it` },
        `whole row of ${showTable(d, table)}: no table-wide select grant`);
    }
  }

  for (const w of allWrites(facts)) {
    const wk = w.kind;
    const needs: Privilege[] = wk === 'insert' ? ['insert'] : wk === 'update' ? ['update'] : wk === 'delete' || wk === 'truncate' ? ['delete']
      : wk === 'replace' ? ['insert', 'delete'] : ['insert', 'update'];
    for (const priv of needs) {
      if (!principal.tablePrivileges(w.target).has(priv)) { tableDenied(w.target, priv); continue; }
      if (priv === 'insert' || priv === 'update') {
        for (const c of w.columns) {
          if (!principal.privileges(c).has(priv)) {
            deny({ rule: id, code: 'COLUMN_ACCESS_DENIED', text: `no ${priv} privilege on column ${showColumn(d, c)}` }, `${priv} on ${showColumn(d, c)}: no grant`);
          }
        }
        if (w.columns.length === 0 && !principal.wholeTablePrivileges(w.target).has(priv)) {
          deny({ rule: id, code: 'COLUMN_ACCESS_DENIED', text: `${priv} without a column list needs ${priv} on every column of ${showTable(d, w.target)}` },
            `${priv} on all columns of ${showTable(d, w.target)}: no table-wide grant`);
        }
      }
    }
  }

  const truncated = allWrites(facts).filter((w) => w.kind === 'truncate').map((w) => w.target);
  if (facts.kind === 'ddl' || truncated.length > 0) {
    const targets = facts.ddlTargets.length > 0 ? facts.ddlTargets : truncated;
    for (const t of targets) if (!principal.wholeTablePrivileges(t).has('ddl')) tableDenied(t, 'ddl');
    if (targets.length === 0 && facts.kind === 'ddl' && !principal.ddlAnywhere) {
      deny({ rule: id, code: 'TABLE_ACCESS_DENIED', text: `no ddl privilege for ${facts.verb || 'this statement'}` }, 'ddl without a target table: no ddl grant');
    }
    if (facts.kind === 'ddl' && !principal.readsEverything) {
      const verb = facts.verb || 'this statement';
      if (CODE_DDL.test(verb)) {
        deny({ rule: id, code: 'TABLE_ACCESS_DENIED', text: `${verb} leaves code that runs later with the service account's rights, unjudged: it needs select on everything, unmasked and within your clearance` },
          `${verb}: code DDL needs unrestricted read`);
      } else if (targets.length === 0 && !PLAIN_DDL.has(verb) && !verb.startsWith('drop')) {
        deny({ rule: id, code: 'TABLE_ACCESS_DENIED', text: `${verb} reaches objects sqlgate does not follow: it needs select on everything, unmasked and within your clearance` },
          `${verb}: untargeted DDL needs unrestricted read`);
      }
    }
  }

  if (r.refusals.length === 0) {
    r.outcomes.push({ rule: id, outcome: 'allow', detail: masked > 0 ? `granted (${masked} ungranted bare output(s) left to masking)` : 'every column read or written is granted' });
  }
  return r;
}
