/**
 * Both doors in front of the real servers, over live catalogs, for engine
 * tests that judge the same story through PostgreSQL and MySQL. Each gets
 * its own database made from `setup`; two users with the roles `dev` and
 * `owner` of `roles`: alice and bob on PostgreSQL, dev and owner on MySQL.
 */
import { createMysqlDatabase, createPgDatabase, type TempDatabase } from '../../helpers/db.js';
import { mysqlLiveGate, pgLiveGate } from '../../helpers/live-gate.js';
import { initAnalysis } from '../../../governance/analyze/analyze.js';
import { policySchema } from '../../../rules/policy-schema.js';
import * as pgSide from '../postgres/setup.js';
import * as mySide from '../mysql/helpers.js';

export interface TwoDoors {
  readonly pgdb: TempDatabase;
  readonly mydb: TempDatabase;
  readonly pgEp: pgSide.Endpoint;
  readonly myEp: mySide.Endpoint;
  close(): Promise<void>;
}

export async function startTwoDoors(prefix: string, setup: { pg: string; mysql: string }, roles: (database: string) => Record<string, unknown>): Promise<TwoDoors> {
  await initAnalysis();
  const pgdb = await createPgDatabase(prefix, setup.pg);
  const mydb = await createMysqlDatabase(prefix, setup.mysql);
  const pgBase = pgSide.testPolicy(pgdb.name);
  const pgEp = await pgSide.startEndpoint(pgLiveGate(policySchema.parse({
    ...pgBase,
    users: { alice: { ...pgBase.users.alice, roles: ['dev'] }, bob: { ...pgBase.users.bob, roles: ['owner'] } },
    roles: roles(pgdb.name),
  })));
  const myBase = mySide.testPolicy({ database: mydb.name });
  const password = myBase.users.both.password;
  const myPolicy = policySchema.parse({
    ...myBase,
    users: { dev: { password, roles: ['dev'] }, owner: { password, roles: ['owner'] } },
    roles: roles(mydb.name),
  });
  const myEp = await mySide.startEndpoint({ gate: mysqlLiveGate(myPolicy, [mydb.name]) as never, policy: myPolicy });
  return {
    pgdb, mydb, pgEp, myEp,
    async close() {
      await pgEp.close();
      await myEp.close();
      await pgdb.drop();
      await mydb.drop();
    },
  };
}
