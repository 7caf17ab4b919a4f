/**
 * The policy file's schema: the single source of truth for what a policy may
 * say. `governance/policy/` loads and validates YAML against it (with line
 * numbers); `sqlgate schema` publishes it as JSON Schema for editors.
 *
 * Object addressing is the same everywhere (grants, labels, masking):
 * instance → database → schema (PostgreSQL only) → table → column, each a
 * name or "*". MySQL has no schema level: its database is its schema.
 */
import { z } from 'zod';

const name = z.string().min(1).max(128);
const wildcard = name.default('*');

/** Statement kinds the analysis reports; roles allow a subset of them. */
export const STATEMENT_KINDS = [
  'select', 'insert', 'update', 'delete', 'replace', 'merge', 'ddl', 'grant',
  'transaction', 'set', 'show', 'explain', 'call', 'copy', 'load_data',
  'prepare', 'execute', 'deallocate', 'do', 'lock', 'use', 'other',
] as const;
export const statementKind = z.enum(STATEMENT_KINDS);
export type StatementKind = z.infer<typeof statementKind>;

export const PRIVILEGES = ['select', 'insert', 'update', 'delete', 'ddl', 'all'] as const;
export const privilege = z.enum(PRIVILEGES);
export type Privilege = z.infer<typeof privilege>;

/** Sensitivity / clearance: 0 unclassified, 1 confidential, 2 sensitive, 3 highly sensitive. */
export const level = z.number().int().min(0).max(3);

/**
 * An IP allow list: a YAML list, or one comma-separated string. Entries are
 * single addresses, `a-b` ranges or CIDR blocks, IPv4 or IPv6; at most 1,000.
 * Entry syntax is checked by the loader (governance/policy/ip-allow.ts) so
 * that the error can name the line of the bad entry.
 */
export const ipAllowList = z.union([z.string(), z.array(z.string()).max(1000)]);

export const limits = z.strictObject({
  /** Rows one query may return; extra rows are cut and the client told. */
  max_rows_per_query: z.number().int().positive().optional(),
  /** Rows a user may receive per day, across sessions and nodes. */
  max_rows_per_day: z.number().int().positive().optional(),
  /** Statements a user may run per day. */
  max_queries_per_day: z.number().int().positive().optional(),
  /** Milliseconds before a statement is cancelled on the database. */
  statement_timeout_ms: z.number().int().positive().optional(),
  /** Tables estimated above this many rows may not be scanned without an index. */
  full_scan_max_rows: z.number().int().positive().optional(),
  /** Bytes one result may carry (stops row packing via GROUP_CONCAT / json_agg). */
  max_result_bytes: z.number().int().positive().optional(),
});
export type Limits = z.infer<typeof limits>;

/** Global defaults, the platforms' published figures where they have one. */
export const DEFAULT_LIMITS: Required<Limits> = {
  max_rows_per_query: 3000,
  max_rows_per_day: 1_000_000,
  max_queries_per_day: 100_000,
  statement_timeout_ms: 300_000,
  full_scan_max_rows: 1_000_000,
  max_result_bytes: 64 * 1024 * 1024,
};

const tls = z.strictObject({
  /** PEM files; when absent, a self-signed certificate is generated at start. */
  cert: z.string().optional(),
  key: z.string().optional(),
});

/**
 * How sqlgate checks the upstream's certificate. `tls: true` is
 * `{ verify: full }`: the chain must lead to a trusted CA (the file in `ca`,
 * else Node's bundled public CAs) and the certificate must name `servername`
 * (default: `host`). `verify: ca` checks the chain only; `verify: none`
 * encrypts without checking anyone (a warning at start), which hands the
 * service password to whoever answers.
 */
export const upstreamTls = z.strictObject({
  /** PEM file with the CA certificate(s) that signed the upstream's certificate. */
  ca: z.string().min(1).optional(),
  verify: z.enum(['full', 'ca', 'none']).default('full'),
  /** The name the certificate must carry (and the SNI sent), when `host` is an address or an alias. */
  servername: z.string().min(1).optional(),
});
export type UpstreamTlsConfig = z.infer<typeof upstreamTls>;

export const instance = z.strictObject({
  protocol: z.enum(['mysql', 'postgres']),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535),
  /** The service account sqlgate logs in with; users never see it. */
  user: name,
  /** Name of the environment variable holding the service password. Never inline. */
  password_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  /** Database used for catalog queries and as the default for new sessions. */
  database: z.string().optional(),
  /** false: plain TCP; true or an object: TLS, verified as `upstreamTls` says. */
  tls: z.union([z.boolean(), upstreamTls]).default(false),
  environment: z.enum(['dev', 'test', 'prod']).default('dev'),
  tenant: name.default('default'),
  label_security: z.boolean().default(false),
  ip_allow: ipAllowList.optional(),
  /** Upper bound on concurrently active upstream connections before ticket execution waits. */
  max_active_connections: z.number().int().positive().optional(),
  limits: limits.optional(),
});
export type Instance = z.infer<typeof instance>;

/** Password verifiers made by `sqlgate passwd`; never the plaintext. */
export const verifiers = z.strictObject({
  /** `*` + upper hex SHA1(SHA1(pw)), as MySQL/MariaDB PASSWORD() prints it. */
  mysql_native: z.string().regex(/^\*[0-9A-F]{40}$/).optional(),
  /** Hex SHA256(SHA256(pw)): enough for caching_sha2 fast and full auth. */
  caching_sha2: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** `SCRAM-SHA-256$<iter>:<salt b64>$<StoredKey b64>:<ServerKey b64>`, as PostgreSQL stores it. */
  scram_sha_256: z.string().regex(/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/).optional(),
  /** `md5` + hex md5(pw + username), as PostgreSQL stores it. */
  md5: z.string().regex(/^md5[0-9a-f]{32}$/).optional(),
});
export type Verifiers = z.infer<typeof verifiers>;

export const user = z.strictObject({
  tenant: name.default('default'),
  password: verifiers,
  roles: z.array(name).default([]),
  clearance: level.default(0),
  /** Trusted-User: writes allowed whatever the column labels. */
  trusted: z.boolean().default(false),
  ip_allow: ipAllowList.optional(),
  limits: limits.optional(),
  /** The user's sessions on this node at once: over every listener of both doors and every worker of `--workers`. */
  max_connections: z.number().int().positive().optional(),
  /** Statements forwarded without analysis (audited as raw). Off unless an administrator sets it. */
  raw_passthrough: z.boolean().default(false),
  disabled: z.boolean().default(false),
});
export type User = z.infer<typeof user>;

export const objectRef = {
  instance: wildcard,
  database: wildcard,
  /** PostgreSQL schema; ignored for MySQL instances. */
  schema: wildcard,
  table: wildcard,
};

export const grant = z.strictObject({
  ...objectRef,
  /** Omitted: the whole table, including columns added later. */
  columns: z.array(name).min(1).optional(),
  privileges: z.array(privilege).min(1),
});
export type Grant = z.infer<typeof grant>;

export const role = z.strictObject({
  description: z.string().optional(),
  grants: z.array(grant).default([]),
  /** Statement kinds members may run; omitted means the read-only set. */
  statement_kinds: z.array(statementKind).optional(),
  /** Procedures members may CALL (`db.proc` or `*`). */
  procedures: z.array(z.string()).default([]),
  /** Rule ids members may skip for one statement with a `/*+ sqlgate:skip(rule) *\/` hint comment. */
  may_skip: z.array(z.enum(['no-unqualified-dml', 'full-scan-guard'])).default([]),
  /**
   * Tables members may UPDATE or DELETE without a WHERE clause (or with an
   * always-true one), for tools that do so on bookkeeping tables they own,
   * such as knex's `knex_migrations_lock`. Name the table: `*` alone is
   * refused. TRUNCATE stays refused.
   */
  unqualified_dml_tables: z.array(z.strictObject({ ...objectRef, table: name.refine((t) => t !== '*', 'name the table; "*" alone would switch no-unqualified-dml off') })).default([]),
  /** LOAD DATA / COPY / server file functions. */
  allow_file_io: z.boolean().default(false),
  /** Members approve change tickets at stages naming this role. */
  approver: z.boolean().default(false),
});
export type Role = z.infer<typeof role>;

export const label = z.strictObject({
  ...objectRef,
  /** A column name, or omitted to label a view (as a whole). */
  column: name.optional(),
  level,
});
export type Label = z.infer<typeof label>;

export const MASK_KINDS = ['partial', 'hash', 'alias', 'null'] as const;
export const mask = z.strictObject({
  ...objectRef,
  column: name,
  kind: z.enum(MASK_KINDS),
  /** partial: characters kept at each end; the rest become mask_char. */
  keep_first: z.number().int().min(0).default(3),
  keep_last: z.number().int().min(0).default(4),
  mask_char: z.string().length(1).default('*'),
  /** alias: the fixed replacement text. */
  alias: z.string().default('******'),
  /** Applies to members of these roles; omitted = everyone not exempt. */
  roles: z.array(name).optional(),
  exempt_roles: z.array(name).default([]),
});
export type Mask = z.infer<typeof mask>;

export const CHANGE_TYPES = ['dml', 'ddl', 'other'] as const;
export const approvalFlow = z.strictObject({
  name,
  when: z.strictObject({
    change_types: z.array(z.enum(CHANGE_TYPES)).optional(),
    environments: z.array(z.enum(['dev', 'test', 'prod'])).optional(),
    instances: z.array(name).optional(),
    /** Applies when the estimated affected rows are at least this. */
    min_rows: z.number().int().min(0).optional(),
  }).default({}),
  /** Ordered stages; each needs one approval from a member of any listed role. */
  stages: z.array(z.strictObject({ roles: z.array(name).min(1) })).min(1),
});
export type ApprovalFlow = z.infer<typeof approvalFlow>;

export const listener = z.strictObject({
  protocol: z.enum(['mysql', 'postgres', 'http']),
  /** host:port; loopback unless configured. */
  listen: z.string(),
  /** The upstream instance this database listener fronts (not for http). */
  instance: name.optional(),
  tls: tls.optional(),
  /** Refuse logins that do not upgrade to TLS. */
  require_tls: z.boolean().default(false),
  /** Addresses allowed to send a PROXY protocol header; from anyone else it is refused. */
  trusted_proxies: ipAllowList.optional(),
  login_timeout_ms: z.number().int().positive().default(10_000),
  /**
   * PostgreSQL listeners: the password method asked for. Default: SCRAM-SHA-256
   * when the user has a SCRAM verifier, else md5. `password` (cleartext) is
   * refused on connections without TLS. A user without the verifier a method
   * needs gets SCRAM, as PostgreSQL does for md5.
   */
  auth_method: z.enum(['scram-sha-256', 'md5', 'password']).optional(),
});
export type Listener = z.infer<typeof listener>;

export const policySchema = z.strictObject({
  version: z.literal(1),
  node_id: z.string().optional(),
  listeners: z.array(listener).default([]),
  /** Instance-wide-and-more: applies to every connection before per-instance and per-user lists. */
  ip_allow: ipAllowList.optional(),
  audit: z.strictObject({
    file: z.string().default('.sqlgate/audit.jsonl'),
    /** Statements slower than this are listed as slow queries. */
    slow_ms: z.number().int().positive().default(1000),
  }).default({ file: '.sqlgate/audit.jsonl', slow_ms: 1000 }),
  store: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('sqlite'), path: z.string().default('.sqlgate/state.db') }),
    z.strictObject({ kind: z.literal('postgres'), url_env: z.string() }),
  ]).default({ kind: 'sqlite', path: '.sqlgate/state.db' }),
  /** IANA time zone in which daily quotas roll over. */
  quota_time_zone: z.string().default('UTC'),
  /**
   * While statements flow, how often (ms) each catalog asks its database
   * whether the schema changed (one small query), and reloads when it did:
   * DDL made outside sqlgate is governed within about this long. 0: only
   * after DDL through sqlgate, for unknown names and every 60 s.
   */
  catalog_check_ms: z.number().int().min(0).default(2000),
  /** Key for keyed-hash masking, from this environment variable (a random per-process key if unset). */
  mask_key_env: z.string().optional(),
  limits: limits.default({}),
  instances: z.record(name, instance),
  users: z.record(name, user).default({}),
  roles: z.record(name, role).default({}),
  labels: z.array(label).default([]),
  masking: z.array(mask).default([]),
  approvals: z.array(approvalFlow).default([]),
});
export type Policy = z.infer<typeof policySchema>;
