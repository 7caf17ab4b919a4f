/**
 * Reads a policy file: YAML → zod schema (rules/policy-schema.ts) → the
 * cross-checks a schema cannot express (names that must refer to something,
 * allow-list entry syntax, listener addresses). Every problem is reported as
 * `file:line:column: path.to.field: message`, the line and column being those
 * of the YAML node at fault, so an operator can jump straight to it.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { SqlgateError } from '../errors.js';
import { policySchema, type Policy } from '../../rules/policy-schema.js';
import { AllowListError, allowListEntries, parseAllowList } from './ip-allow.js';

export type { Policy } from '../../rules/policy-schema.js';

/** One problem in a policy file. `line`/`column` are 1-based; 0 when the whole file is at fault. */
export interface PolicyIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Dotted path of the field, e.g. `users.alice.roles[0]`; empty for the document. */
  readonly path: string;
  readonly message: string;
}

/** The policy file is invalid; `issues` lists every problem found. */
export class PolicyError extends SqlgateError {
  readonly issues: readonly PolicyIssue[];

  constructor(issues: readonly PolicyIssue[]) {
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
    super('POLICY_INVALID', sorted.map(formatIssue).join('\n'));
    this.name = 'PolicyError';
    this.issues = sorted;
  }
}

/** `file:line:column: path: message`, the form editors and terminals link. */
export function formatIssue(i: PolicyIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.column}` : i.file;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

type PathKey = string | number;

/** `users.alice.roles[0]`; keys that are not plain words are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k)) out += out ? `.${k}` : k;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out;
}

/** Locates YAML nodes by the path zod reports. */
class Locator {
  readonly #doc: Document;
  readonly #lines: LineCounter;
  readonly #file: string;
  readonly #text: string;

  constructor(doc: Document, lines: LineCounter, file: string, text: string) {
    this.#doc = doc;
    this.#lines = lines;
    this.#file = file;
    this.#text = text;
  }

  /** The deepest node on the path that exists (the parent, when a field is missing). */
  node(path: readonly PathKey[]): Node | undefined {
    return this.#walk(path).node;
  }

  /** True when every step of the path is present in the YAML. */
  exists(path: readonly PathKey[]): boolean {
    return this.#walk(path).depth === path.length;
  }

  #walk(path: readonly PathKey[]): { node: Node | undefined; depth: number } {
    let node: unknown = this.#doc.contents;
    let depth = 0;
    for (const key of path) {
      if (isAlias(node)) node = node.resolve(this.#doc);
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
        // `key:` with nothing after it: point at the key.
        next = pair ? (pair.value ?? pair.key) : undefined;
      } else if (isSeq(node) && typeof key === 'number') {
        next = node.items[key];
      }
      if (next === undefined || next === null) break;
      node = next;
      depth++;
    }
    return { node: (node ?? undefined) as Node | undefined, depth };
  }

  /** The node at `path`, or for a missing field the key of its deepest present ancestor. */
  #nodeOrKey(path: readonly PathKey[]): Node | undefined {
    const { node, depth } = this.#walk(path);
    if (depth === path.length || depth === 0) return node;
    return this.keyNode(path.slice(0, depth)) ?? node;
  }

  /** The key node of `path`'s last element in its map (for unknown-field errors). */
  keyNode(path: readonly PathKey[]): Node | undefined {
    const parent = this.node(path.slice(0, -1));
    const key = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (pair && isScalar(pair.key)) return pair.key;
    }
    return undefined;
  }

  at(offset: number, path: readonly PathKey[], message: string): PolicyIssue {
    const { line, col } = this.#lines.linePos(offset);
    return { file: this.#file, line, column: col, path: formatPath(path), message };
  }

  issue(path: readonly PathKey[], message: string, node = this.#nodeOrKey(path)): PolicyIssue {
    return this.at(node?.range?.[0] ?? 0, path, message);
  }

  /** Source offset of the `n`th comma-separated entry inside a scalar (best effort). */
  entryOffset(node: Node | undefined, entries: readonly string[], n: number): number {
    const start = node?.range?.[0] ?? 0;
    if (!node?.range || !isScalar(node)) return start;
    const src = this.#text.slice(start, node.range[1]);
    let from = 0;
    for (let i = 0; i <= n && i < entries.length; i++) {
      const e = entries[i].trim();
      const at = e ? src.indexOf(e, from) : -1;
      if (at < 0) return start;
      if (i === n) return start + at;
      from = at + e.length;
    }
    return start;
  }
}

function yamlIssues(doc: Document, file: string): PolicyIssue[] {
  return doc.errors.map((e) => {
    const pos = e.linePos?.[0];
    const message = e.message.split(/ at line \d+, column \d+/)[0];
    return { file, line: pos?.line ?? 0, column: pos?.col ?? 0, path: '', message: `YAML: ${message}` };
  });
}

function zodIssues(issues: readonly z.core.$ZodIssue[], loc: Locator): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  for (const i of issues) {
    const path = i.path.filter((k): k is PathKey => typeof k === 'string' || typeof k === 'number');
    if (i.code === 'unrecognized_keys') {
      for (const key of i.keys) {
        const p = [...path, key];
        out.push(loc.issue(p, `unknown field '${key}'`, loc.keyNode(p)));
      }
      continue;
    }
    const last = path[path.length - 1];
    let message = loc.exists(path) || i.code !== 'invalid_type' ? i.message : 'required field is missing';
    if (i.code === 'invalid_union' && (last === 'ip_allow' || last === 'trusted_proxies')) {
      message = 'expected a comma-separated string or a YAML list of address strings (at most 1,000)';
    }
    out.push(loc.issue(path, message));
  }
  return out;
}

/** Parses `host:port` or `[v6]:port`; port 0 lets the OS choose (tests). */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2], port };
}

/** Problems with one allow list, pointing at the bad entry. */
function allowListIssues(value: unknown, path: PathKey[], loc: Locator): PolicyIssue[] {
  if (typeof value !== 'string' && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) return [];
  try {
    parseAllowList(value);
    return [];
  } catch (e) {
    if (!(e instanceof AllowListError)) throw e;
    if (typeof value === 'string') {
      const at = loc.entryOffset(loc.node(path), allowListEntries(value), e.index);
      return [loc.at(at, path, e.message)];
    }
    return [loc.issue([...path, e.index], e.message)];
  }
}

/** Every allow list in a policy that has not passed the schema yet (so its errors come with the schema's). */
function rawAllowListIssues(raw: unknown, loc: Locator): PolicyIssue[] {
  const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {});
  const r = obj(raw);
  const out = allowListIssues(r.ip_allow, ['ip_allow'], loc);
  for (const section of ['instances', 'users'] as const) {
    for (const [name, v] of Object.entries(obj(r[section]))) out.push(...allowListIssues(obj(v).ip_allow, [section, name, 'ip_allow'], loc));
  }
  if (Array.isArray(r.listeners)) {
    r.listeners.forEach((l, k) => out.push(...allowListIssues(obj(l).trusted_proxies, ['listeners', k, 'trusted_proxies'], loc)));
  }
  return out;
}

/** The checks that need more than one field at a time. */
function crossCheck(p: Policy, loc: Locator): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  const roles = new Set(Object.keys(p.roles));
  const instances = new Set(Object.keys(p.instances));

  const allow = (value: string | readonly string[] | undefined, path: PathKey[]) => {
    out.push(...allowListIssues(value, path, loc));
  };
  const role = (name: string, path: PathKey[]) => {
    if (!roles.has(name)) out.push(loc.issue(path, `role '${name}' is not defined under roles`));
  };
  const inst = (name: string, path: PathKey[]) => {
    if (name !== '*' && !instances.has(name)) out.push(loc.issue(path, `instance '${name}' is not defined under instances`));
  };

  allow(p.ip_allow, ['ip_allow']);
  for (const [name, i] of Object.entries(p.instances)) allow(i.ip_allow, ['instances', name, 'ip_allow']);

  for (const [name, u] of Object.entries(p.users)) {
    allow(u.ip_allow, ['users', name, 'ip_allow']);
    u.roles.forEach((r, k) => role(r, ['users', name, 'roles', k]));
    if (Object.values(u.password).every((v) => v === undefined)) {
      out.push(loc.issue(['users', name, 'password'], 'needs at least one verifier (make them with `sqlgate passwd`)'));
    }
  }

  const seenListen = new Map<string, number>();
  p.listeners.forEach((l, k) => {
    const path: PathKey[] = ['listeners', k];
    allow(l.trusted_proxies, [...path, 'trusted_proxies']);
    const addr = parseListen(l.listen);
    if (!addr) {
      out.push(loc.issue([...path, 'listen'], `'${l.listen}' is not host:port`));
    } else if (addr.port !== 0) {
      const key = `${addr.host}:${addr.port}`;
      const first = seenListen.get(key);
      if (first !== undefined) out.push(loc.issue([...path, 'listen'], `address already used by listeners[${first}]`));
      else seenListen.set(key, k);
    }
    if (l.protocol === 'http') {
      if (l.instance !== undefined) out.push(loc.issue([...path, 'instance'], 'an http listener fronts no single instance'));
      if (l.trusted_proxies !== undefined) out.push(loc.issue([...path, 'trusted_proxies'], 'the PROXY protocol applies to mysql and postgres listeners only'));
      return;
    }
    if (l.instance === undefined) {
      out.push(loc.issue(path, `a ${l.protocol} listener needs 'instance'`));
    } else if (!instances.has(l.instance)) {
      out.push(loc.issue([...path, 'instance'], `instance '${l.instance}' is not defined under instances`));
    } else if (p.instances[l.instance].protocol !== l.protocol) {
      out.push(loc.issue([...path, 'instance'],
        `instance '${l.instance}' speaks ${p.instances[l.instance].protocol}, not ${l.protocol}`));
    }
  });

  for (const [name, r] of Object.entries(p.roles)) {
    r.grants.forEach((g, k) => inst(g.instance, ['roles', name, 'grants', k, 'instance']));
  }
  p.labels.forEach((l, k) => inst(l.instance, ['labels', k, 'instance']));
  p.masking.forEach((m, k) => {
    inst(m.instance, ['masking', k, 'instance']);
    m.roles?.forEach((r, j) => role(r, ['masking', k, 'roles', j]));
    m.exempt_roles.forEach((r, j) => role(r, ['masking', k, 'exempt_roles', j]));
  });

  const flowNames = new Map<string, number>();
  p.approvals.forEach((a, k) => {
    const first = flowNames.get(a.name);
    if (first !== undefined) out.push(loc.issue(['approvals', k, 'name'], `approval flow name already used by approvals[${first}]`));
    else flowNames.set(a.name, k);
    a.when.instances?.forEach((n, j) => inst(n, ['approvals', k, 'when', 'instances', j]));
    a.stages.forEach((s, j) => s.roles.forEach((r, m) => role(r, ['approvals', k, 'stages', j, 'roles', m])));
  });
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * Parses and validates policy text. `file` is used in messages only.
 * Returns a deeply frozen policy; throws PolicyError listing every problem.
 */
export function parsePolicy(text: string, file: string): Policy {
  const lines = new LineCounter();
  // merge: `<<: *defaults` lets a policy share limits or grants between entries.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true, merge: true });
  if (doc.errors.length) throw new PolicyError(yamlIssues(doc, file));
  const loc = new Locator(doc, lines, file, text);
  let raw: unknown;
  try {
    // A small alias budget stops "billion laughs" expansion.
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new PolicyError([{ file, line: 0, column: 0, path: '', message: `YAML: ${(e as Error).message}` }]);
  }
  const parsed = policySchema.safeParse(raw ?? undefined);
  if (!parsed.success) {
    const schemaIssues = zodIssues(parsed.error.issues, loc);
    // Entry errors in allow lists the schema did not already fault.
    const extra = rawAllowListIssues(raw, loc).filter((a) => !schemaIssues.some((z) => z.path.startsWith(a.path.replace(/\[\d+\]$/, ''))));
    throw new PolicyError([...schemaIssues, ...extra]);
  }
  const issues = crossCheck(parsed.data, loc);
  if (issues.length) throw new PolicyError(issues);
  return deepFreeze(parsed.data);
}

/** Reads and validates a policy file; an unreadable file is a PolicyError too. */
export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PolicyError([{ file: path, line: 0, column: 0, path: '', message: `cannot read: ${err.code ?? err.message}` }]);
  }
  return parsePolicy(text, path);
}
