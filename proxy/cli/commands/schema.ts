import { policyJsonSchemaText } from '../../../governance/policy/json-schema.js';
import type { Command } from '../command.js';

export const command: Command = {
  summary: 'print the policy file JSON Schema (for editors)',
  usage: `usage: sqlgate schema

Prints the JSON Schema of the policy file on stdout. The copy shipped as
rules/policy.schema.json is regenerated with:

  node dist/proxy/cli/main.js schema > rules/policy.schema.json`,
  async run(args) {
    if (args.length) {
      console.error(`sqlgate schema: unexpected argument '${args[0]}'`);
      return 2;
    }
    process.stdout.write(policyJsonSchemaText());
    return 0;
  },
};
