/**
 * Caches one catalog per database and reloads it after a time-to-live or on
 * demand. Each load gets a higher `version` than any catalog this provider
 * handed out before, so analysis cache entries made against an older
 * snapshot can never be reused against a newer one.
 */
import type { Catalog } from './catalog.js';
import { withVersion } from './catalog.js';

interface Entry {
  readonly catalog: Promise<Catalog>;
  readonly at: number;
}

export class CatalogProvider {
  readonly #load: (database: string | undefined) => Promise<Catalog>;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, Entry>();
  #version = 0;

  /** `ttlMs` defaults to 60 s; 0 or less disables expiry (refresh only). */
  constructor(load: (database: string | undefined) => Promise<Catalog>, opts: { ttlMs?: number } = {}) {
    this.#load = load;
    this.#ttlMs = opts.ttlMs ?? 60_000;
  }

  /** The cached catalog for a database, loading it when missing or expired. */
  get(database?: string): Promise<Catalog> {
    const e = this.#entries.get(database ?? '\u0000');
    if (e && (this.#ttlMs <= 0 || Date.now() - e.at < this.#ttlMs)) return e.catalog;
    return this.refresh(database);
  }

  /** Loads afresh; concurrent `get`s share this load. A failed load is not cached. */
  refresh(database?: string): Promise<Catalog> {
    const k = database ?? '\u0000';
    const version = ++this.#version;
    const catalog = this.#load(database).then((c) => (c.version === version ? c : withVersion(c, version)));
    this.#entries.set(k, { catalog, at: Date.now() });
    catalog.catch(() => {
      if (this.#entries.get(k)?.catalog === catalog) this.#entries.delete(k);
    });
    return catalog;
  }
}
