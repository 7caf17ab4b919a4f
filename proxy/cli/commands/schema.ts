import { z } from 'zod';
import { policySchema } from '../../../rules/policy-schema.js';
import type { Command } from '../command.js';

export const command: Command = {
  summary: 'print the policy file JSON Schema (for editors)',
  usage: 'usage: sqlgate schema\n\nPrints the JSON Schema of the policy file to standard output.',
  async run() {
    const schema = z.toJSONSchema(policySchema, { io: 'input', unrepresentable: 'any' });
    console.log(JSON.stringify({ ...schema, title: 'sqlgate policy' }, null, 2));
    return 0;
  },
};
