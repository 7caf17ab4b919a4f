import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cli } from './run-cli.js';

test('rules/policy.schema.json is the current output of `sqlgate schema`', () => {
  const r = cli(['schema']);
  assert.equal(r.status, 0, r.stderr);
  const committed = readFileSync(join(ROOT, 'rules', 'policy.schema.json'), 'utf8');
  assert.equal(committed, r.stdout,
    'rules/policy.schema.json is stale: regenerate with `npm run build && node dist/proxy/cli/main.js schema > rules/policy.schema.json`');
  const s = JSON.parse(committed);
  assert.equal(s.title, 'sqlgate policy');
  assert.deepEqual(s.required, ['version', 'instances']);
  assert.ok(s.properties.users && s.properties.ip_allow && s.properties.approvals);
});
