/**
 * `sqlgate explain`: what the engine makes of one statement for one user —
 * the analysis (kind, tables, output lineage, reads, writes, dynamic SQL)
 * and the decision with every rule's outcome — without running it. Policy
 * authors use it to answer "why was this refused?". It reads the catalog
 * from the upstream (service account) or a JSON file, and touches no data.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { loadPolicyFile } from '../../../governance/policy/load.js';
import * as analysis from '../../../governance/analyze/analyze.js';
import { catalogFromTables, type Catalog, type TableSpec } from '../../../governance/catalog/catalog.js';
import { liveCatalogs } from '../../../governance/catalog/live.js';
import { judge, type EngineJudgement } from '../../../governance/engine/judge.js';
import type { ColumnId, StatementFacts, TableId } from '../../../governance/facts.js';
import type { SessionContext } from '../../../governance/decision.js';
import { RULES } from '../../../rules/catalogue.js';
import { effectivePermissions } from '../../../governance/engine/grants.js';
import type { Policy } from '../../../rules/policy-schema.js';

function formatGrants(policy: Policy, user: string, instance: string, catalog: Catalog): string {
  const perms = effectivePermissions(policy, user, instance, catalog.tables());
  if (!perms) return `unknown user ${user} or instance ${instance}`;
  const u = policy.users[user];
  const mysql = policy.instances[instance].protocol === 'mysql';
  const out = [`effective permissions of ${user} on ${instance} (roles: ${u.roles.join(', ') || 'none'}; clearance ${u.clearance}${u.trusted ? '; trusted' : ''})`];
  if (perms.length === 0) out.push('  no table');
  for (const t of perms) {
    out.push(`  ${mysql ? t.table.database : t.table.schema}.${t.table.table}${t.tableLabel ? ` (label ${t.tableLabel})` : ''}`);
    for (const c of t.columns) {
      out.push(`    ${c.column.padEnd(18)} ${(c.privileges.join(',') || '-').padEnd(32)} label ${c.label}  ${c.read === 'masked' ? `masked (${c.mask})` : c.read === 'value' ? 'readable' : 'refused'}`);
    }
  }
  return out.join('\n');
}

const USAGE = `usage: sqlgate explain --policy FILE --user USER --instance NAME [options] "SQL"
       sqlgate explain --policy FILE --user USER --instance NAME [options] --grants

Prints how sqlgate analyses the statement(s) and what it decides for USER on
instance NAME, with every rule's outcome. Nothing is executed.

options:
  --policy FILE          policy file (YAML)
  --user USER            the user the statement is judged for
  --instance NAME        instance from the policy
  --database DB          current database (default: the instance's)
  --search-path a,b      PostgreSQL search_path (default: public)
  --catalog live|FILE    live: load from the upstream with the service account
                         (default); FILE: a JSON array of tables
                         ({database, schema?, name, kind?, columns: [names], rows?})
  --estimate N           affected rows to assume for change-approval
  --grants               print the user's effective column permissions instead
  --json                 print the judgement as JSON
exit status: 0 allowed, 1 refused, 3 needs approval, 2 usage or setup error`;

function showTable(t: TableId, mysql: boolean): string {
  return mysql ? `${t.database}.${t.table}` : `${t.schema}.${t.table}`;
}

function showCol(c: ColumnId, mysql: boolean): string {
  return `${showTable(c, mysql)}.${c.column}`;
}

/** Human-readable analysis and decision, one block per statement. */
export function formatJudgement(j: EngineJudgement, user: string, instance: string): string {
  const out: string[] = [];
  j.statements.forEach((d, i) => {
    const f: StatementFacts = d.facts;
    const my = f.dialect === 'mysql';
    out.push(`statement ${i + 1}: ${f.text.trim()}`);
    out.push(`  kind         ${f.kind}${f.verb && f.verb !== f.kind ? ` (${f.verb})` : ''}`);
    if (f.fingerprint) out.push(`  fingerprint  ${f.fingerprint}`);
    if (f.unresolved) out.push(`  unresolved   ${f.unresolved.code}: ${f.unresolved.message}`);
    if (f.tablesRead.length) out.push(`  tables       ${f.tablesRead.map((t) => showTable(t, my)).join(', ')}`);
    if (f.outputs.length) {
      out.push('  outputs');
      for (const o of f.outputs) {
        const src = o.sources.length ? o.sources.map((s) => `${showCol(s.column, my)}${s.bare ? '' : ' (in expression)'}`).join(', ') : '(no column)';
        const mask = d.directives.masks.find((m) => m.index === o.index);
        out.push(`    ${String(o.index).padStart(2)} ${o.name.padEnd(16)} ← ${src}${mask ? `   [masked: ${mask.kind}]` : ''}`);
      }
    }
    if (f.reads.length) out.push(`  reads        ${f.reads.map((r) => `${showCol(r.column, my)} @${r.place}`).join(', ')}`);
    if (f.wholeRows.length) out.push(`  whole rows   ${f.wholeRows.map((t) => showTable(t, my)).join(', ')}`);
    if (f.write) {
      const w = f.write;
      out.push(`  writes       ${showTable(w.target, my)}${w.columns.length ? ` (${w.columns.map((c) => c.column).join(', ')})` : ''}` +
        `${w.truncate ? ' truncate' : ''} where=${w.hasWhere}${w.alwaysTrue ? ' (always true)' : ''}${w.hasWhere && !w.whereTouchesTarget ? ' (not on target)' : ''} limit=${w.hasLimit}`);
    }
    if (f.ddlTargets.length) out.push(`  ddl targets  ${f.ddlTargets.map((t) => showTable(t, my)).join(', ')}`);
    if (f.dynamic.length) out.push(`  dynamic      ${f.dynamic.map((x) => x.kind + (x.name ? ` ${x.name}` : '')).join(', ')}`);
    if (f.hints.length) out.push(`  hints        ${f.hints.map((h) => `${h.name}(${h.args.join(',')})`).join(' ')}`);
    if (f.sessionChange) out.push(`  session      ${JSON.stringify(f.sessionChange)}`);
    out.push(`  decision     ${d.verdict.toUpperCase()}${d.rules.length ? ` [${d.rules.join(', ')}]` : ''}${d.raw ? ' (raw passthrough)' : ''}`);
    if (d.error) out.push(`  error        ${d.error.message}  (${d.error.code}, SQLSTATE ${d.error.sqlstate}, errno ${d.error.errno})`);
    if (d.skipped.length) out.push(`  skipped      ${d.skipped.join(', ')}`);
    const dir = d.directives;
    if (d.verdict !== 'deny') {
      out.push(`  directives   max rows ${dir.maxRows ?? '-'}, timeout ${dir.timeoutMs ?? '-'} ms, daily rows ${dir.maxRowsPerDay ?? '-'}, daily queries ${dir.maxQueriesPerDay ?? '-'}` +
        `${dir.bigTables.length ? `, plan check: ${dir.bigTables.map((b) => `${b.schema}.${b.table} ~${b.rows}`).join(', ')}` : ''}`);
    }
    out.push('  rules');
    for (const t of d.trace) out.push(`    ${t.outcome.padEnd(14)} ${t.rule.padEnd(20)} ${t.detail}`);
  });
  const verdict = j.verdict === 'deny' && j.statements.length > 1 ? 'DENY (the whole message: no statement runs)' : j.verdict.toUpperCase();
  out.push(`judgement for ${user} on ${instance}: ${verdict}`);
  return out.join('\n');
}

export const command: Command = {
  summary: 'show how a statement is analysed and judged for a user (runs nothing)',
  usage: USAGE,
  async run(args) {
    let values: Record<string, string | boolean | undefined>;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args: [...args], allowPositionals: true,
        options: {
          policy: { type: 'string' }, user: { type: 'string' }, instance: { type: 'string' }, database: { type: 'string' },
          'search-path': { type: 'string' }, catalog: { type: 'string' }, estimate: { type: 'string' }, json: { type: 'boolean' },
          grants: { type: 'boolean' },
        },
      }));
    } catch (err) {
      console.error(`sqlgate explain: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    const sql = positionals.join(' ');
    if (!values.policy || !values.user || !values.instance || (!sql && !values.grants)) {
      console.error(USAGE);
      return 2;
    }
    try {
      const policy = loadPolicyFile(String(values.policy));
      const instanceName = String(values.instance);
      const inst = policy.instances[instanceName];
      if (!inst) throw new Error(`instance '${instanceName}' is not in the policy (${Object.keys(policy.instances).join(', ')})`);
      const dialect = inst.protocol === 'mysql' ? 'mysql' as const : 'postgres' as const;
      const database = values.database ? String(values.database) : inst.database;
      const searchPath = values['search-path'] ? String(values['search-path']).split(',').map((s) => s.trim()).filter(Boolean) : dialect === 'postgres' ? ['public'] : [];
      const source = values.catalog ? String(values.catalog) : 'live';
      let catalogFor: (db: string | undefined) => Promise<Catalog>;
      if (source === 'live') {
        const live = liveCatalogs(() => policy);
        catalogFor = (db) => live.catalogFor(instanceName, db);
      } else {
        const tables = JSON.parse(readFileSync(source, 'utf8')) as TableSpec[];
        const catalog = catalogFromTables(dialect, tables, dialect === 'postgres' && database ? { defaultDatabase: database } : {});
        catalogFor = async () => catalog;
      }
      if (values.grants) {
        console.log(formatGrants(policy, String(values.user), instanceName, await catalogFor(database)));
        return 0;
      }
      const init = (analysis as Record<string, unknown>).initAnalysis;
      if (typeof init === 'function') await (init as () => Promise<void>)();
      const session: SessionContext = {
        user: String(values.user), clientIp: '127.0.0.1', instance: instanceName, dialect, database, searchPath,
        door: dialect, sessionId: 'explain',
      };
      const estimate = values.estimate !== undefined ? Number(values.estimate) : undefined;
      const j = await judge(session, sql, { policy, analyze: analysis.analyze, catalogFor, ...(estimate !== undefined ? { estimate: () => estimate } : {}) });
      if (values.json) console.log(JSON.stringify(j, null, 2));
      else console.log(formatJudgement(j, session.user, instanceName));
      if (!values.json && j.verdict === 'deny') console.log(`\n(rule ids: ${[...new Set(j.statements.flatMap((d) => d.rules))].map((r) => `${r} — ${RULES[r] ?? ''}`).join('; ')})`);
      return j.verdict === 'allow' ? 0 : j.verdict === 'deny' ? 1 : 3;
    } catch (err) {
      console.error(`sqlgate explain: ${(err as Error).message}`);
      return 2;
    }
  },
};
