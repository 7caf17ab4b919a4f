import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PolicyError, formatIssue, loadPolicyFile } from '../../../governance/policy/load.js';
import { wantsHelp, type Command } from '../command.js';
import { upstreamTls } from '../../../governance/gate.js';
import type { Instance } from '../../../rules/policy-schema.js';

/** The sample policy shipped in the package (dist/proxy/cli/commands → repository root). */
export const SAMPLE_POLICY = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'rules', 'sample-policy.yaml');

export const command: Command = {
  summary: 'validate a policy file and print a summary or its line-numbered errors',
  usage: `usage: sqlgate check [policy.yaml]

Validates the policy file (default: $SQLGATE_POLICY, else the shipped
rules/sample-policy.yaml). Prints a summary when it is valid; otherwise every
problem as file:line:column: field: message, and exits with status 1.`,
  async run(args) {
    if (wantsHelp(args)) {
      console.log(this.usage);
      return 0;
    }
    if (args.length > 1 || args[0]?.startsWith('-')) {
      console.error(`sqlgate check: unexpected argument '${args[args.length > 1 ? 1 : 0]}'\n${this.usage}`);
      return 2;
    }
    const file = args[0] ?? process.env.SQLGATE_POLICY ?? relative(process.cwd(), SAMPLE_POLICY);
    try {
      const p = loadPolicyFile(file);
      const lines = [`${file}: policy is valid`];
      const inst = Object.entries(p.instances);
      lines.push(`  instances  ${inst.length}`);
      for (const [name, i] of inst) {
        const flags = [i.environment, i.label_security ? 'label security' : undefined, tlsFlag(i.tls)].filter(Boolean).join(', ');
        lines.push(`    ${name.padEnd(14)} ${i.protocol.padEnd(8)} ${i.host}:${i.port}  ${flags}`);
      }
      lines.push(`  listeners  ${p.listeners.length}`);
      for (const l of p.listeners) lines.push(`    ${l.protocol.padEnd(8)} ${l.listen}${l.instance ? ` -> ${l.instance}` : ''}`);
      lines.push(`  users      ${Object.keys(p.users).length} (${Object.keys(p.users).join(', ')})`);
      lines.push(`  roles      ${Object.keys(p.roles).length} (${Object.keys(p.roles).join(', ')})`);
      lines.push(`  labels     ${p.labels.length}`);
      lines.push(`  masking    ${p.masking.length}`);
      lines.push(`  approvals  ${p.approvals.length}${p.approvals.length ? ` (${p.approvals.map((a) => a.name).join(', ')})` : ''}`);
      lines.push(`  ip_allow   ${p.ip_allow === undefined ? 'none (no restriction)' : Array.isArray(p.ip_allow) ? p.ip_allow.join(', ') : p.ip_allow}`);
      console.log(lines.join('\n'));
      return 0;
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      for (const i of e.issues) console.error(formatIssue(i));
      console.error(`${file}: ${e.issues.length} problem${e.issues.length === 1 ? '' : 's'}; policy rejected`);
      return 1;
    }
  },
};

function tlsFlag(tls: Instance['tls']): string | undefined {
  const t = upstreamTls(tls);
  if (!t) return undefined;
  return t.verify === 'none' ? 'tls, certificate NOT verified' : `tls, verify ${t.verify}${t.ca ? ` against ${t.ca}` : ''}`;
}
