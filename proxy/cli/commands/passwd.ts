import { parseArgs } from 'node:util';
import { makeVerifiers } from '../../../governance/auth/verifiers.js';
import { wantsHelp, type Command } from '../command.js';

/** Reads a line from a TTY without echoing it. */
function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    // Echo off before the prompt shows, so nothing typed after it is echoed.
    stdin.setRawMode(true);
    process.stderr.write(prompt);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // One trailing newline is the line end of `echo pw |`, not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export const command: Command = {
  summary: 'turn a password into the verifiers a policy stores',
  usage: `usage: sqlgate passwd --user NAME [--password-stdin]

Reads a password (from the terminal without echo, asked twice; or, with
--password-stdin or when stdin is not a terminal, all of stdin minus one
trailing newline) and prints the policy's password block for that user:
mysql_native, caching_sha2, scram_sha_256 (PostgreSQL format, 4096
iterations, random salt) and md5 (which depends on the user name).
The plaintext is never printed or stored.

  printf %s "$PW" | sqlgate passwd --user alice --password-stdin`,
  async run(args) {
    if (wantsHelp(args)) {
      console.log(this.usage);
      return 0;
    }
    let values: { user?: string; 'password-stdin'?: boolean };
    try {
      ({ values } = parseArgs({ args: [...args], options: { user: { type: 'string', short: 'u' }, 'password-stdin': { type: 'boolean' } }, strict: true }));
    } catch (e) {
      console.error(`sqlgate passwd: ${(e as Error).message}\n${this.usage}`);
      return 2;
    }
    if (!values.user) {
      console.error(`sqlgate passwd: --user is required\n${this.usage}`);
      return 2;
    }
    let password: string;
    if (!values['password-stdin'] && process.stdin.isTTY) {
      try {
        password = await readHidden(`Password for ${values.user}: `);
        const again = await readHidden('Again: ');
        if (again !== password) {
          console.error('sqlgate passwd: the passwords differ');
          return 1;
        }
      } catch {
        return 130;
      }
    } else {
      password = await readAll();
    }
    if (password === '') {
      console.error('sqlgate passwd: empty password refused');
      return 1;
    }
    const v = makeVerifiers(values.user, password);
    console.log([
      `# ${values.user}: paste under users.${values.user} in the policy file`,
      'password:',
      `  mysql_native: "${v.mysql_native}"`,
      `  caching_sha2: "${v.caching_sha2}"`,
      `  scram_sha_256: "${v.scram_sha_256}"`,
      `  md5: "${v.md5}"`,
    ].join('\n'));
    return 0;
  },
};
