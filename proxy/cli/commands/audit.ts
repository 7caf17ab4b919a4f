import { existsSync } from 'node:fs';
import { verifyAuditFile } from '../../../governance/audit/verify.js';
import { wantsHelp, type Command } from '../command.js';

export const command: Command = {
  summary: 'check the hash chain of an audit log file',
  usage: `usage: sqlgate audit verify FILE

Checks every record of an audit log (JSON lines, each carrying the hash of
the one before). Reports the file intact with its record count, or the line
of the first edited, missing, reordered or truncated record; exits with
status 1 when the chain is broken.`,
  async run(args) {
    if (wantsHelp(args)) {
      console.log(this.usage);
      return 0;
    }
    const [sub, file, ...extra] = args;
    if (sub !== 'verify' || !file || extra.length) {
      console.error(this.usage);
      return 2;
    }
    if (!existsSync(file)) {
      console.error(`sqlgate audit: ${file}: no such file`);
      return 2;
    }
    const r = verifyAuditFile(file);
    if (r.ok) {
      console.log(`${file}: intact, ${r.records} record${r.records === 1 ? '' : 's'}`);
      return 0;
    }
    console.log(`${file}:${r.firstBad!.line}: broken: ${r.firstBad!.reason} (${r.records} record${r.records === 1 ? '' : 's'} intact before it)`);
    return 1;
  },
};
