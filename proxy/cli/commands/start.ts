import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { startSqlgate, formatAddress } from '../../server.js';
import { runPrimary, workerReady } from '../../cluster.js';
import type { Command } from '../command.js';

const USAGE = `usage: sqlgate start [--policy FILE] [--state-dir DIR] [--workers N|auto]

Starts the listeners the policy declares (MySQL, PostgreSQL) in front of its
upstream instances, judging and auditing every statement. The policy is
reloaded when the file changes or on SIGHUP; SIGINT/SIGTERM stop sqlgate.

  --policy FILE     policy file (default: $SQLGATE_POLICY, else rules/sample-policy.yaml)
  --state-dir DIR   generated state: self-signed certificate (default .sqlgate)
  --workers N|auto  serve with N processes sharing the listening ports and the
                    control store (auto: one per CPU; default 1). Each worker
                    writes its own audit file: audit.jsonl -> audit.w0.jsonl, ...

Service-account passwords come from the environment variables the policy's
instances name in password_env.`;

/** A worker's IPC channel keeps it alive: once it is done, it lets go (the primary sees it exit). */
function leaveCluster(): void {
  if (cluster.isWorker && process.connected) process.disconnect();
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export const command: Command = {
  summary: 'run the sqlgate listeners from a policy file',
  usage: USAGE,
  async run(args) {
    const workersArg = option(args, '--workers');
    const workers = workersArg === undefined ? 1 : workersArg === 'auto' ? availableParallelism() : Number(workersArg);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
      console.error(`sqlgate: --workers takes a number from 1 to 256 or 'auto', not ${JSON.stringify(workersArg)}`);
      return 2;
    }
    if (workers > 1 && cluster.isPrimary) {
      console.log(`sqlgate: starting ${workers} workers`);
      return runPrimary(workers, process.argv.slice(2), (line) => console.log(line));
    }
    const policyPath = option(args, '--policy') ?? process.env.SQLGATE_POLICY ?? 'rules/sample-policy.yaml';
    let running;
    try {
      running = await startSqlgate({ policyPath, stateDir: option(args, '--state-dir') });
    } catch (err) {
      console.error(`sqlgate: cannot start: ${(err as Error).message}`);
      leaveCluster();
      return 1;
    }
    for (const l of running.listeners) {
      console.log(`sqlgate: ${l.protocol} listening on ${formatAddress(l.address)} -> instance ${l.instance}`);
    }
    for (const s of running.skipped) console.log(`sqlgate: skipped ${s}`);
    workerReady();
    const stop = running.close;
    await new Promise<void>((resolve) => {
      const onSignal = () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); resolve(); };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    await stop();
    console.log('sqlgate: stopped');
    leaveCluster();
    return 0;
  },
};
