/**
 * The corpus format. Each case is one client message (possibly several
 * statements) with the expected judgement for some users:
 *
 *   'allow'            allowed, nothing masked
 *   'mask:1,3'         allowed, exactly these output positions masked
 *   'deny'             refused (any rule)
 *   'deny:column-acl'  refused, and that rule is among the refusing rules
 *   'approval'         needs approval (change-approval)
 *   'a|b'              either answer is secure (e.g. 'mask:0|deny' where a
 *                      value reaches the client unchanged through a construct
 *                      the analysis may count as bare or not)
 *
 * Users (test/security/policy-fixture.ts): a analyst, s support, u auditor,
 * d dba, w writer, n nobody, v developer.
 */
export type UserKey = 'a' | 's' | 'u' | 'd' | 'w' | 'n' | 'v';

export const USERS: Readonly<Record<UserKey, string>> = { a: 'analyst', s: 'support', u: 'auditor', d: 'dba', w: 'writer', n: 'nobody', v: 'developer' };

export interface CorpusCase {
  readonly sql: string;
  readonly expect: Partial<Record<UserKey, string>>;
  /** Written the way an attacker would: counted towards the adversarial section. */
  readonly adversarial?: boolean;
  /** Why the case exists, printed on failure. */
  readonly note?: string;
  /** Run under the policy whose instances are 'prod' (change-approval cases). */
  readonly prod?: boolean;
}

export function basic(sql: string, expect: CorpusCase['expect'], note?: string): CorpusCase {
  return { sql, expect, ...(note ? { note } : {}) };
}

export function attack(sql: string, expect: CorpusCase['expect'], note?: string): CorpusCase {
  return { sql, expect, adversarial: true, ...(note ? { note } : {}) };
}

export function prod(sql: string, expect: CorpusCase['expect'], note?: string): CorpusCase {
  return { sql, expect, prod: true, ...(note ? { note } : {}) };
}
