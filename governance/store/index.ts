export type { ControlStore, QueryCount, QuotaUsage, RowReservation, StoreKind } from './control-store.js';
export { openStore, type StoreConfig } from './open.js';
export { SqliteStore } from './sqlite-store.js';
export { PostgresStore } from './postgres-store.js';
export { LATEST_VERSION, MIGRATIONS } from './migrations.js';
