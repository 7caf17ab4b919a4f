/**
 * Keeps the policy in force and swaps it when the file changes or on SIGHUP
 * (DESIGN.md decision 8). A reload that fails validation is logged with its
 * line-numbered issues and the last good policy stays; sessions keep running
 * because callers read `current()` per decision rather than holding a copy.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { PolicyError, formatIssue, parsePolicy, type Policy, type PolicyIssue } from './load.js';

export interface PolicyHolderOptions {
  /** Where reload outcomes go; a pino logger on stderr by default. */
  readonly logger?: Logger;
  /** Watch the file for changes (default true). */
  readonly watch?: boolean;
  /** Reload on SIGHUP (default true). */
  readonly sighup?: boolean;
  /** Quiet period after the last file event before re-reading (default 200 ms). */
  readonly debounceMs?: number;
  /**
   * Checks beyond the file itself, run on the policy read at open and on
   * every reload before it takes effect (the proxy's: CA files it names
   * must be usable). Any problem refuses the policy, as a schema error does.
   */
  readonly check?: (policy: Policy) => readonly { readonly path: string; readonly message: string }[];
}

/** Result of one reload attempt. */
export interface ReloadResult {
  readonly ok: boolean;
  readonly issues: readonly PolicyIssue[];
}

/**
 * Holds the current policy. Events: `change` (policy, version) after an
 * accepted reload; `invalid` (issues) after a refused one.
 */
export class PolicyHolder extends EventEmitter {
  /** Absolute path of the policy file. */
  readonly path: string;
  /** The path as given, used in messages so they match `sqlgate check`. */
  readonly #shown: string;
  #policy: Policy;
  #version = 1;
  #digest: string;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #check: PolicyHolderOptions['check'];
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #onHup: (() => void) | undefined;
  #closed = false;
  #watching = false;
  #wakeups = 0;

  private constructor(path: string, shown: string, policy: Policy, digest: string, opts: PolicyHolderOptions) {
    super();
    this.path = path;
    this.#shown = shown;
    this.#policy = policy;
    this.#digest = digest;
    this.#log = opts.logger ?? pino({ name: 'sqlgate' }, pino.destination(2));
    this.#debounceMs = opts.debounceMs ?? 200;
    this.#check = opts.check;
  }

  /** Loads the file (throws PolicyError if invalid) and starts watching it. */
  static open(path: string, opts: PolicyHolderOptions = {}): PolicyHolder {
    const abs = resolve(path);
    const text = readText(abs, path);
    const policy = parsePolicy(text, path);
    checked(policy, path, opts.check);
    const holder = new PolicyHolder(abs, path, policy, digest(text), opts);
    if (opts.watch !== false) {
      holder.#watching = true;
      if (!holder.#watch()) holder.#retry();
    }
    if (opts.sighup !== false) {
      holder.#onHup = () => {
        holder.#log.info({ policy: holder.path }, 'SIGHUP: reloading policy');
        holder.reload();
      };
      process.on('SIGHUP', holder.#onHup);
    }
    return holder;
  }

  /** The policy in force now. */
  current(): Policy {
    return this.#policy;
  }

  /** 1 for the policy read at open; +1 for each accepted reload. */
  get version(): number {
    return this.#version;
  }

  /** Re-reads the file now. On failure the current policy stays. */
  reload(): ReloadResult {
    return this.#reload(false);
  }

  #reload(onlyIfChanged: boolean): ReloadResult {
    let text: string;
    let policy: Policy;
    try {
      text = readText(this.path, this.#shown);
      if (onlyIfChanged && digest(text) === this.#digest) return { ok: true, issues: [] };
      policy = parsePolicy(text, this.#shown);
      checked(policy, this.#shown, this.#check);
    } catch (e) {
      const issues = e instanceof PolicyError
        ? e.issues
        : [{ file: this.#shown, line: 0, column: 0, path: '', message: (e as Error).message }];
      this.#log.error({ policy: this.path, version: this.#version, issues: issues.map(formatIssue) },
        'policy reload refused; the last good policy stays in force');
      this.emit('invalid', issues);
      return { ok: false, issues };
    }
    this.#policy = policy;
    this.#digest = digest(text);
    this.#version++;
    this.#log.info({ policy: this.path, version: this.#version }, 'policy reloaded');
    this.emit('change', policy, this.#version);
    return { ok: true, issues: [] };
  }

  // Watch the file, not its directory: a directory watch wakes the process on
  // every write to any file beside the policy (the audit log, the store's
  // journal), which the bench measured at 0.6 extra read(2) per statement.
  // A save that renames a new file over the old one (editors), or swaps a
  // symlink (Kubernetes ConfigMaps), ends the watch on the old inode with a
  // 'rename' event: the watch is armed again on the path, then the file is
  // re-read, so nothing saved in between is missed.
  /** Arms the watch on the path; false when the file is not there to watch. */
  #watch(): boolean {
    if (this.#closed) return false;
    if (this.#watcher) return true;
    try {
      this.#watcher = watch(this.path, { persistent: false }, (event) => {
        this.#wakeups++;
        if (event === 'rename') this.#unwatch();
        this.#schedule();
      });
    } catch {
      return false;
    }
    this.#watcher.on('error', (err) => {
      this.#log.error({ policy: this.path, err }, 'policy watch failed; watching again');
      this.#unwatch();
      this.#schedule();
    });
    return true;
  }

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  /** File events that reached the holder (a diagnostic; the tests read it). */
  get wakeups(): number {
    return this.#wakeups;
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      const missing = this.#watching && !this.#watch();
      this.#reload(true);
      // Gone for now: reported once (the reload above fails), then looked for at a slower pace.
      if (missing) this.#retry();
    }, this.#debounceMs);
    this.#timer.unref();
  }

  #retry(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      if (this.#watch()) this.#reload(true);
      else this.#retry();
    }, Math.max(this.#debounceMs, 1000));
    this.#timer.unref();
  }

  /** Stops watching and listening for SIGHUP. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#unwatch();
    if (this.#onHup) process.off('SIGHUP', this.#onHup);
    this.#onHup = undefined;
  }
}

/** Throws PolicyError listing what `check` found wrong with `policy`. */
function checked(policy: Policy, shown: string, check: PolicyHolderOptions['check']): void {
  const problems = check?.(policy) ?? [];
  if (problems.length) throw new PolicyError(problems.map((p) => ({ file: shown, line: 0, column: 0, path: p.path, message: p.message })));
}

function readText(path: string, shown: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PolicyError([{ file: shown, line: 0, column: 0, path: '', message: `cannot read: ${err.code ?? err.message}` }]);
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
