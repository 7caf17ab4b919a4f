import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { PolicyHolder } from '../../../../governance/policy/holder.js';
import { PolicyError } from '../../../../governance/policy/load.js';

const policy = (clearance: number | string) => `version: 1
instances:
  m1: { protocol: mysql, port: 3306, user: root }
users:
  alice:
    clearance: ${clearance}
    password: { md5: md5e28bd24942d50bf9d9f9d7d72329ba97 }
`;

function setup(opts: { watch?: boolean; sighup?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-holder-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, policy(1));
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s)); } });
  const holder = PolicyHolder.open(file, { logger, watch: opts.watch ?? false, sighup: opts.sighup ?? false, debounceMs: 20 });
  return { dir, file, holder, lines, done: () => { holder.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** Waits for an event, failing (not hanging) if it never comes. */
async function eventually<T extends unknown[]>(em: PolicyHolder, name: string): Promise<T> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), 10_000);
  try {
    return (await once(em, name, { signal: ac.signal })) as T;
  } finally {
    clearTimeout(t);
  }
}

test('open refuses an invalid file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-holder-'));
  try {
    const file = join(dir, 'p.yaml');
    writeFileSync(file, policy(9));
    assert.throws(() => PolicyHolder.open(file, { watch: false, sighup: false }), PolicyError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reload of a good file gives a new version and emits change', () => {
  const s = setup();
  try {
    assert.equal(s.holder.version, 1);
    assert.equal(s.holder.current().users.alice.clearance, 1);
    writeFileSync(s.file, policy(2));
    let seen: number | undefined;
    s.holder.on('change', (_p, v: number) => { seen = v; });
    const r = s.holder.reload();
    assert.deepEqual(r, { ok: true, issues: [] });
    assert.equal(s.holder.version, 2);
    assert.equal(seen, 2);
    assert.equal(s.holder.current().users.alice.clearance, 2);
  } finally {
    s.done();
  }
});

test('reload of a bad file keeps the last good policy and logs the issues', () => {
  const s = setup();
  try {
    const before = s.holder.current();
    writeFileSync(s.file, policy(7));
    const r = s.holder.reload();
    assert.equal(r.ok, false);
    assert.equal(r.issues.length, 1);
    assert.equal(r.issues[0].line, 6);
    assert.equal(r.issues[0].path, 'users.alice.clearance');
    assert.equal(s.holder.version, 1);
    assert.equal(s.holder.current(), before);
    const err = s.lines.find((l) => l.level === 50);
    assert.ok(err, 'an error was logged');
    assert.match(String((err.issues as string[])[0]), /policy\.yaml:6:16: users\.alice\.clearance:/);
    // a deleted file is refused the same way
    rmSync(s.file);
    assert.equal(s.holder.reload().ok, false);
    assert.equal(s.holder.current(), before);
    // and a fixed file is accepted again
    writeFileSync(s.file, policy(3));
    assert.equal(s.holder.reload().ok, true);
    assert.equal(s.holder.version, 2);
  } finally {
    s.done();
  }
});

test('the proxy\'s own check refuses a policy at open and on reload, keeping the last good one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-holder-'));
  try {
    const file = join(dir, 'p.yaml');
    // The check stands in for the proxy's (usable CA files): clearance 3 is "broken" here.
    const check = (p: { users: Record<string, { clearance: number }> }) =>
      p.users.alice.clearance === 3 ? [{ path: 'users.alice.clearance', message: 'three is refused by the check' }] : [];
    writeFileSync(file, policy(3));
    assert.throws(() => PolicyHolder.open(file, { watch: false, sighup: false, check }),
      (e: PolicyError) => e instanceof PolicyError && /p\.yaml: users\.alice\.clearance: three is refused by the check/.test(e.message));
    writeFileSync(file, policy(1));
    const holder = PolicyHolder.open(file, { watch: false, sighup: false, check, logger: pino({ level: 'silent' }) });
    try {
      writeFileSync(file, policy(3));
      const r = holder.reload();
      assert.equal(r.ok, false);
      assert.equal(r.issues[0].message, 'three is refused by the check');
      assert.equal(holder.current().users.alice.clearance, 1);
      writeFileSync(file, policy(2));
      assert.equal(holder.reload().ok, true);
      assert.equal(holder.current().users.alice.clearance, 2);
    } finally {
      holder.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a changed file is picked up by the watcher', async () => {
  const s = setup({ watch: true });
  try {
    const changed = eventually<[unknown, number]>(s.holder, 'change');
    writeFileSync(s.file, policy(2));
    const [, version] = await changed;
    assert.equal(version, 2);
    assert.equal(s.holder.current().users.alice.clearance, 2);
  } finally {
    s.done();
  }
});

test('an editor-style replace (write temp, rename over) is picked up; a bad save is refused', async () => {
  const s = setup({ watch: true });
  try {
    const invalid = eventually<[unknown]>(s.holder, 'invalid');
    writeFileSync(join(s.dir, '.policy.yaml.swp'), policy('x'));
    renameSync(join(s.dir, '.policy.yaml.swp'), s.file);
    await invalid;
    assert.equal(s.holder.version, 1);
    const changed = eventually<[unknown, number]>(s.holder, 'change');
    writeFileSync(join(s.dir, '.policy.yaml.swp'), policy(3));
    renameSync(join(s.dir, '.policy.yaml.swp'), s.file);
    await changed;
    assert.equal(s.holder.current().users.alice.clearance, 3);
    assert.equal(readFileSync(s.file, 'utf8'), policy(3));
  } finally {
    s.done();
  }
});

test('SIGHUP reloads; close removes the handler', async () => {
  const before = process.listenerCount('SIGHUP');
  const s = setup({ sighup: true });
  try {
    assert.equal(process.listenerCount('SIGHUP'), before + 1);
    writeFileSync(s.file, policy(2));
    const changed = eventually<[unknown, number]>(s.holder, 'change');
    process.kill(process.pid, 'SIGHUP');
    const [, version] = await changed;
    assert.equal(version, 2);
    assert.ok(s.lines.some((l) => /SIGHUP/.test(String(l.msg))));
  } finally {
    s.done();
  }
  assert.equal(process.listenerCount('SIGHUP'), before);
});

test('writes to other files in the policy directory do not wake the holder (an audit log beside it)', async () => {
  const s = setup({ watch: true });
  try {
    for (let i = 0; i < 20; i++) {
      writeFileSync(join(s.dir, 'audit.jsonl'), `line ${i}\n`, { flag: 'a' });
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.holder.wakeups, 0);
    // The watcher is live all the same: a change to the policy itself wakes it.
    const changed = eventually<[unknown, number]>(s.holder, 'change');
    writeFileSync(s.file, policy(2));
    await changed;
    assert.ok(s.holder.wakeups > 0);
  } finally {
    s.done();
  }
});

test('a Kubernetes-style symlink swap (ConfigMap update) is picked up, twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-holder-k8s-'));
  const version = (n: number) => {
    const d = join(dir, `..v${n}`);
    mkdirSync(d);
    writeFileSync(join(d, 'policy.yaml'), policy(n));
    symlinkSync(`..v${n}`, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    if (n > 1) rmSync(join(dir, `..v${n - 1}`), { recursive: true });
  };
  version(1);
  symlinkSync('..data/policy.yaml', join(dir, 'policy.yaml'));
  const holder = PolicyHolder.open(join(dir, 'policy.yaml'), { logger: pino({ level: 'silent' }), sighup: false, debounceMs: 20 });
  try {
    for (const n of [2, 3]) {
      const changed = eventually<[unknown, number]>(holder, 'change');
      version(n);
      await changed;
      assert.equal(holder.current().users.alice.clearance, n);
    }
  } finally {
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a policy file deleted and written again is picked up when it is back', async () => {
  const s = setup({ watch: true });
  try {
    const invalid = eventually<[unknown]>(s.holder, 'invalid');
    rmSync(s.file);
    await invalid;
    const changed = eventually<[unknown, number]>(s.holder, 'change');
    writeFileSync(s.file, policy(2));
    await changed;
    assert.equal(s.holder.current().users.alice.clearance, 2);
  } finally {
    s.done();
  }
});
