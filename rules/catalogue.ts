/**
 * Every rule id sqlgate can put in an error, an audit record or a metric,
 * with one line on what it guards. `sqlgate explain` and the docs print it.
 */
export const RULES: Readonly<Record<string, string>> = {
  'ip-allow-list': 'client address must be on the global, instance and user allow lists',
  'tenant-isolation': "a user never reaches another tenant's instances",
  'unparsed-statement': 'a statement sqlgate cannot parse is refused (fail closed) unless the user has raw passthrough',
  'unresolved-column': 'a column reference that cannot be resolved against the catalog is refused (fail closed)',
  'unresolved-table': 'a table reference that cannot be resolved against the catalog is refused (fail closed)',
  'untracked-setting': 'session settings that would change how the server reads text are refused unless tracked',
  'statement-kinds': 'which kinds of statement a role may run (default: select, show, explain, set, use, transaction, deallocate)',
  'dynamic-sql': 'PREPARE FROM a variable, DO blocks, dynamic EXECUTE, unlisted procedures/functions and server file I/O',
  'column-acl': 'table and column grants per privilege; every place a column is read needs select on it',
  'label-no-read-up': 'no reading columns or views labelled above your clearance without an explicit grant; only trusted users write above it',
  masking: 'masked columns are shown masked as bare outputs and refused anywhere else (predicates, expressions, aggregates)',
  'no-unqualified-dml': 'UPDATE/DELETE without WHERE and LIMIT, always-true or target-independent WHERE, TRUNCATE',
  'change-approval': 'changes matching an approval flow must go through an approved change ticket',
  'row-cap': 'rows one result may return; extra rows are cut and the client told',
  'daily-row-quota': 'rows a user may receive per day',
  'daily-query-quota': 'statements a user may run per day',
  'statement-timeout': 'statements past their time limit are cancelled on the database',
  'full-scan-guard': 'no unindexed full scan of a table estimated above the size limit',
};

export type RuleId = keyof typeof RULES;
