/**
 * The real gate for endpoint tests: catalogs loaded from the test servers by
 * the production loaders, reloaded after DDL and for unknown names, with the
 * production TTL; audit records dropped.
 */
import { createGate, type EngineGate } from '../../governance/gate-impl.js';
import { CatalogProvider } from '../../governance/catalog/provider.js';
import { loadMysqlCatalog, loadPgCatalog } from '../../governance/catalog/catalog.js';
import type { Policy } from '../../rules/policy-schema.js';
import { mysqlConnect, pgConnect, pgUrl, withDatabase } from './db.js';

/** `onLoad` is told of every catalog load (to count reloads). */
export function pgLiveGate(policy: Policy, onLoad?: () => void): EngineGate {
  const catalogs = new CatalogProvider(async (database) => {
    onLoad?.();
    const c = await pgConnect(withDatabase(pgUrl(), database ?? 'postgres'));
    // A reload still running when a test drops its database is ended by the server: that load fails, quietly.
    c.on('error', () => undefined);
    try { return await loadPgCatalog(c); } finally { await c.end(); }
  });
  return createGate({ policy: () => policy, audit: { write() {} }, catalogFor: (_i, d) => catalogs.get(d), refreshCatalog: (_i, d) => catalogs.refresh(d) });
}

/** One MySQL catalog over `databases` (information_schema too, as the live loader reads it, where a test needs it). */
export function mysqlLiveGate(policy: Policy, databases: readonly string[], onLoad?: () => void): EngineGate {
  const catalogs = new CatalogProvider(async () => {
    onLoad?.();
    const c = await mysqlConnect();
    c.on('error', () => undefined);
    try { return await loadMysqlCatalog(c as never, databases); } finally { await c.end(); }
  });
  return createGate({ policy: () => policy, audit: { write() {} }, catalogFor: () => catalogs.get(undefined), refreshCatalog: () => catalogs.refresh(undefined) });
}
