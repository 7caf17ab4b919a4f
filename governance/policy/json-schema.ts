/**
 * The policy schema published as JSON Schema (draft 2020-12) for editors:
 * `sqlgate schema > rules/policy.schema.json`. Generated from the zod schema
 * so the two never drift; a test fails when the committed file is stale.
 */
import { z } from 'zod';
import { policySchema } from '../../rules/policy-schema.js';

/** The JSON Schema of what a user may write (defaults make fields optional). */
export function policyJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(policySchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'sqlgate policy',
    description: 'Policy file of sqlgate, the SQL front-end proxy with data-governance enforcement. Validate with `sqlgate check FILE`.',
    ...rest,
  };
}

/** The exact text of rules/policy.schema.json. */
export function policyJsonSchemaText(): string {
  return JSON.stringify(policyJsonSchema(), null, 2) + '\n';
}
