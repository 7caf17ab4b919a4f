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
  /** The schema fingerprint taken just before the load; undefined without a probe. */
  fingerprint: Promise<string | undefined>;
  /** When the fingerprint was last compared. */
  checkedAt: number;
  checking: boolean;
}

export interface CatalogProviderOptions {
  /** `ttlMs` defaults to 60 s; 0 or less disables expiry (refresh only). */
  readonly ttlMs?: number;
  /**
   * A cheap query whose answer changes with the schema (fingerprint.ts).
   * While the catalog is in use, it is asked at most every `checkMs`, and
   * a changed answer reloads the catalog at once.
   */
  readonly probe?: (database: string | undefined) => Promise<string>;
  /** Least time between two probes of one database (default 2 s; 0 or less: never). */
  readonly checkMs?: number | (() => number);
}

export class CatalogProvider {
  readonly #load: (database: string | undefined) => Promise<Catalog>;
  readonly #ttlMs: number;
  readonly #probe: CatalogProviderOptions['probe'];
  readonly #checkMs: () => number;
  readonly #entries = new Map<string, Entry>();
  #version = 0;

  constructor(load: (database: string | undefined) => Promise<Catalog>, opts: CatalogProviderOptions = {}) {
    this.#load = load;
    this.#ttlMs = opts.ttlMs ?? 60_000;
    this.#probe = opts.probe;
    const check = opts.checkMs ?? 2000;
    this.#checkMs = typeof check === 'function' ? check : () => check;
  }

  /**
   * The cached catalog for a database, loading it when missing or expired.
   * A fresh one is returned at once; if its schema check is due, the check
   * runs behind it and reloads the catalog when the schema moved.
   */
  get(database?: string): Promise<Catalog> {
    const e = this.#entries.get(database ?? '\u0000');
    if (e && (this.#ttlMs <= 0 || Date.now() - e.at < this.#ttlMs)) {
      this.#maybeCheck(database, e);
      return e.catalog;
    }
    return this.refresh(database);
  }

  /** Loads afresh; concurrent `get`s share this load. A failed load is not cached. */
  refresh(database?: string): Promise<Catalog> {
    const k = database ?? '\u0000';
    const version = ++this.#version;
    // The fingerprint first: DDL between the two is seen by the next check, never missed.
    const fingerprint = this.#probe ? this.#probe(database).catch(() => undefined) : Promise.resolve(undefined);
    const catalog = fingerprint.then(() => this.#load(database)).then((c) => (c.version === version ? c : withVersion(c, version)));
    const entry: Entry = { catalog, at: Date.now(), fingerprint, checkedAt: Date.now(), checking: false };
    this.#entries.set(k, entry);
    catalog.catch(() => {
      if (this.#entries.get(k) === entry) this.#entries.delete(k);
    });
    return catalog;
  }

  #maybeCheck(database: string | undefined, e: Entry): void {
    const every = this.#checkMs();
    if (!this.#probe || every <= 0 || e.checking || Date.now() - e.checkedAt < every) return;
    e.checking = true;
    const k = database ?? '\u0000';
    void Promise.all([e.fingerprint, this.#probe(database)]).then(([before, now]) => {
      // No fingerprint from the load (its probe failed): this one is the reference from now on.
      if (before === undefined) e.fingerprint = Promise.resolve(now);
      else if (before !== now && this.#entries.get(k) === e) this.refresh(database);
    }, () => undefined).finally(() => {
      e.checking = false;
      e.checkedAt = Date.now();
    });
  }
}
