/**
 * `openStore(policy.store)`: the one way the rest of sqlgate gets a control
 * store. The policy names the PostgreSQL URL by environment variable so the
 * password never sits in the policy file.
 */
import type { Policy } from '../../rules/policy-schema.js';
import { SqlgateError } from '../errors.js';
import type { ControlStore } from './control-store.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';

/** The policy's `store` section. */
export type StoreConfig = Policy['store'];

/** Opens and migrates the configured store. `env` defaults to process.env. */
export async function openStore(config: StoreConfig, env: NodeJS.ProcessEnv = process.env): Promise<ControlStore> {
  switch (config.kind) {
    case 'sqlite':
      return SqliteStore.open({ path: config.path });
    case 'postgres': {
      const url = env[config.url_env];
      if (!url) {
        throw new SqlgateError('POLICY_INVALID', `sqlgate: store.url_env names ${config.url_env}, which is not set in the environment`);
      }
      return PostgresStore.open({ url });
    }
    default: {
      const never: never = config;
      throw new SqlgateError('POLICY_INVALID', `sqlgate: unknown store kind ${JSON.stringify(never)}`);
    }
  }
}
