/**
 * One running sqlgate node: the policy (reloaded on change or SIGHUP), the
 * audit log, the governance gate over live catalogs, and a listener for each
 * database door the policy declares. `sqlgate start`, `sqlgate demo`, the
 * benchmarks and the end-to-end tests all start sqlgate through here.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { AuditLog } from '../governance/audit/log.js';
import { liveCatalogs } from '../governance/catalog/live.js';
import { initAnalysis } from '../governance/analyze/analyze.js';
import { createGate, type EngineGate } from '../governance/gate-impl.js';
import { PolicyHolder } from '../governance/policy/holder.js';
import { DailyQuota } from '../governance/quota/daily-quota.js';
import { openStore } from '../governance/store/index.js';
import type { Listener } from '../rules/policy-schema.js';
import { startMysqlListener } from './mysql/listener.js';
import { startPgListener } from './postgres/listener.js';
import { workerFile, workerInfo } from './cluster.js';
import { checkUpstreamTls } from './upstream-tls.js';

export interface SqlgateOptions {
  readonly policyPath: string;
  /** Generated state (self-signed certificate, default audit/store paths) lives here. */
  readonly stateDir?: string;
  readonly logger?: Logger;
  /** Watch the policy file and reload on change (default true). */
  readonly watch?: boolean;
}

/** A listener that is up, for printing and for tests. */
export interface RunningListener {
  readonly protocol: Listener['protocol'];
  readonly instance: string | undefined;
  readonly address: AddressInfo;
}

export interface RunningSqlgate {
  readonly gate: EngineGate;
  readonly policy: PolicyHolder;
  readonly audit: AuditLog;
  readonly listeners: readonly RunningListener[];
  /** Listeners the policy declares that this build does not serve, and why. */
  readonly skipped: readonly string[];
  close(): Promise<void>;
}

export async function startSqlgate(opts: SqlgateOptions): Promise<RunningSqlgate> {
  const log = opts.logger ?? pino({ name: 'sqlgate' }, pino.destination(2));
  const stateDir = resolve(opts.stateDir ?? '.sqlgate');
  const policy = PolicyHolder.open(opts.policyPath, {
    logger: log, watch: opts.watch !== false, check: (p) => checkUpstreamTls(p.instances, log),
  });
  const first = policy.current();
  const worker = workerInfo();
  const node = `${first.node_id ?? hostname()}${worker ? `-w${worker.index}` : ''}`;
  const audit = AuditLog.open({ file: workerFile(resolve(first.audit.file), worker), node, groupCommit: true });
  await initAnalysis();
  const catalogs = liveCatalogs(() => policy.current());
  const store = await openStore(first.store);
  const quota = new DailyQuota({ store, timeZone: first.quota_time_zone });
  const gate = createGate({ policy, audit, catalogFor: catalogs.catalogFor, refreshCatalog: catalogs.refresh, node, quota });

  const closers: (() => Promise<void>)[] = [];
  const listeners: RunningListener[] = [];
  const skipped: string[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => log.error({ err }, 'error while closing'));
    policy.close();
    await quota.close().catch((err: unknown) => log.error({ err }, 'could not give the quota leases back'));
    await store.close();
    await audit.close();
  };
  try {
    for (const l of first.listeners) {
      if (l.protocol === 'http') {
        skipped.push(`http ${l.listen}: the web console is not part of this build yet`);
        continue;
      }
      const instance = l.instance!;
      const handle = l.protocol === 'mysql'
        ? await startMysqlListener({ gate, listener: l, instance, stateDir })
        : await startPgListener({ gate, listener: l, instance, stateDir });
      closers.push(() => handle.close());
      listeners.push({ protocol: l.protocol, instance, address: handle.address() });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return { gate, policy, audit, listeners, skipped, close: closeAll };
}

/** `host:port` of a listener for humans. */
export function formatAddress(a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
