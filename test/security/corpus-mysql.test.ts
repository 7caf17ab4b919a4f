/**
 * Security corpus, MySQL/MariaDB: every case of corpus-mysql-cases.ts judged
 * for every user it names. Cases the analysis gets wrong today stay in the
 * corpus with their secure expectation and are listed in KNOWN_FAILURES
 * (printed on every run); a known failure that starts passing fails the test
 * so the list is kept honest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MYSQL_CASES } from './corpus-mysql-cases.js';
import { checkCorpus } from './corpus-check.js';

/** `user sql` → why it fails today. */
export const KNOWN_FAILURES: ReadonlyMap<string, string> = new Map([
]);

test('security corpus (MySQL): every case judged as expected', async () => {
  const summary = await checkCorpus('mysql', MYSQL_CASES, KNOWN_FAILURES);
  assert.ok(summary.statements >= 150, `corpus has ${summary.statements} statements`);
  assert.ok(summary.adversarial >= 80, `adversarial section has ${summary.adversarial} statements`);
  assert.deepEqual(summary.unexpected, [], 'unexpected outcomes');
  assert.deepEqual(summary.nowPassing, [], 'known failures that now pass: remove them from KNOWN_FAILURES');
});
