/**
 * Effective permissions of a user on an instance, column by column
 * (SHOW GRANTS-style introspection): the merged privileges of every role,
 * the column's label against the user's clearance, and the mask that applies.
 * What `sqlgate explain --grants` prints and what an endpoint may answer
 * SHOW GRANTS with.
 */
import type { Policy, Privilege } from '../../rules/policy-schema.js';
import type { TableId } from '../facts.js';
import { freelyReadable } from '../../rules/system-objects.js';
import { principalFor } from './index.js';

export interface ColumnPermission {
  readonly column: string;
  readonly privileges: readonly Privilege[];
  readonly label: number;
  readonly mask: string | undefined;
  /** What a SELECT of the bare column gives: the value, the masked value, or a refusal. */
  readonly read: 'value' | 'masked' | 'refused';
}

export interface TablePermission {
  readonly table: TableId;
  readonly tableLabel: number;
  readonly columns: readonly ColumnPermission[];
}

const ORDER: readonly Privilege[] = ['select', 'insert', 'update', 'delete', 'ddl'];

/** Tables with at least one privilege, in catalog order; undefined for an unknown user or instance. */
export function effectivePermissions(policy: Policy, user: string, instance: string,
  tables: readonly { readonly database: string; readonly schema: string; readonly name: string; readonly columns: readonly { readonly name: string }[] }[]): TablePermission[] | undefined {
  const p = principalFor(policy, user, instance);
  if (!p) return undefined;
  const clearance = p.definition.clearance;
  const labels = p.instance.label_security;
  const out: TablePermission[] = [];
  for (const t of tables) {
    const table: TableId = { database: t.database, schema: t.schema, table: t.name };
    if (freelyReadable(p.dialect, table) || p.tablePrivileges(table).size === 0) continue;
    const tableLabel = labels ? p.tableLabel(table) : 0;
    const columns = t.columns.map((c): ColumnPermission => {
      const col = { ...table, column: c.name };
      const privs = p.privileges(col);
      const label = labels ? p.columnLabel(col) : 0;
      const mask = p.mask(col);
      const labelOk = label <= clearance || p.explicitColumnGrant(col, 'select');
      const read = mask && p.tablePrivileges(table).has('select') ? 'masked' : privs.has('select') && labelOk ? 'value' : 'refused';
      return { column: c.name, privileges: ORDER.filter((x) => privs.has(x)), label, mask: mask?.kind, read };
    });
    out.push({ table, tableLabel, columns });
  }
  return out;
}
