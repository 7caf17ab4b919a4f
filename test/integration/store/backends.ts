/**
 * Opens a fresh control store of each kind for the suites that run once per
 * backend: SQLite in a temp folder, PostgreSQL in a temp database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../governance/store/open.js';
import type { ControlStore, StoreKind } from '../../../governance/store/control-store.js';
import { createPgDatabase } from '../../helpers/db.js';

export const BACKENDS: readonly StoreKind[] = ['sqlite', 'postgres'];

export interface OpenedBackend {
  readonly store: ControlStore;
  /** The store config plus the env it needs, for a child process to open the same store. */
  readonly config: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url_env: string };
  readonly env: Record<string, string>;
  /** Opens one more handle on the same store (another "node"). */
  reopen(): Promise<ControlStore>;
  /** Closes every handle and removes the temp file / database. */
  dispose(): Promise<void>;
}

/** A store location nobody has opened yet, with what a process needs to open it. */
export interface FreshStore {
  readonly config: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url_env: string };
  readonly env: Record<string, string>;
  /** Removes the temp file / database. */
  cleanup(): Promise<void>;
}

export async function freshStore(kind: StoreKind, prefix: string): Promise<FreshStore> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), `sqlgate-${prefix}-`));
    return {
      config: { kind: 'sqlite', path: join(dir, 'state', 'store.db') },
      env: {},
      async cleanup() { rmSync(dir, { recursive: true, force: true }); },
    };
  }
  const db = await createPgDatabase(prefix);
  return {
    config: { kind: 'postgres', url_env: 'SQLGATE_TEST_STORE_URL' },
    env: { SQLGATE_TEST_STORE_URL: db.url },
    cleanup: () => db.drop(),
  };
}

/** Opens a fresh store of `kind`; `reopen` gives more handles on it (more "nodes"). */
export async function openBackend(kind: StoreKind, prefix: string): Promise<OpenedBackend> {
  const fresh = await freshStore(kind, prefix);
  const handles: ControlStore[] = [];
  const reopen = async () => { const s = await openStore(fresh.config, fresh.env); handles.push(s); return s; };
  const dispose = async () => {
    for (const h of handles) await h.close();
    await fresh.cleanup();
  };
  try {
    const store = await reopen();
    return { store, config: fresh.config, env: fresh.env, reopen, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
