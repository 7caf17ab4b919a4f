import { startSqlgate, formatAddress } from '../../server.js';
import type { Command } from '../command.js';

const USAGE = `usage: sqlgate start [--policy FILE] [--state-dir DIR]

Starts the listeners the policy declares (MySQL, PostgreSQL) in front of its
upstream instances, judging and auditing every statement. The policy is
reloaded when the file changes or on SIGHUP; SIGINT/SIGTERM stop sqlgate.

  --policy FILE     policy file (default: $SQLGATE_POLICY, else rules/sample-policy.yaml)
  --state-dir DIR   generated state: self-signed certificate (default .sqlgate)

Service-account passwords come from the environment variables the policy's
instances name in password_env.`;

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export const command: Command = {
  summary: 'run the sqlgate listeners from a policy file',
  usage: USAGE,
  async run(args) {
    const policyPath = option(args, '--policy') ?? process.env.SQLGATE_POLICY ?? 'rules/sample-policy.yaml';
    let running;
    try {
      running = await startSqlgate({ policyPath, stateDir: option(args, '--state-dir') });
    } catch (err) {
      console.error(`sqlgate: cannot start: ${(err as Error).message}`);
      return 1;
    }
    for (const l of running.listeners) {
      console.log(`sqlgate: ${l.protocol} listening on ${formatAddress(l.address)} -> instance ${l.instance}`);
    }
    for (const s of running.skipped) console.log(`sqlgate: skipped ${s}`);
    const stop = running.close;
    await new Promise<void>((resolve) => {
      const onSignal = () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); resolve(); };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    await stop();
    console.log('sqlgate: stopped');
    return 0;
  },
};
