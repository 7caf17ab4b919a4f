/**
 * Keeps the policy in force and swaps it when the file changes or on SIGHUP
 * (DESIGN.md decision 8). A reload that fails validation is logged with its
 * line-numbered issues and the last good policy stays; sessions keep running
 * because callers read `current()` per decision rather than holding a copy.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
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
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #onHup: (() => void) | undefined;
  #closed = false;

  private constructor(path: string, shown: string, policy: Policy, digest: string, opts: PolicyHolderOptions) {
    super();
    this.path = path;
    this.#shown = shown;
    this.#policy = policy;
    this.#digest = digest;
    this.#log = opts.logger ?? pino({ name: 'sqlgate' }, pino.destination(2));
    this.#debounceMs = opts.debounceMs ?? 200;
  }

  /** Loads the file (throws PolicyError if invalid) and starts watching it. */
  static open(path: string, opts: PolicyHolderOptions = {}): PolicyHolder {
    const abs = resolve(path);
    const text = readText(abs, path);
    const holder = new PolicyHolder(abs, path, parsePolicy(text, path), digest(text), opts);
    if (opts.watch !== false) holder.#watch();
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

  // Watch the directory, not the file: editors that save by writing a new
  // file and renaming it over the old one leave a file watcher on a dead inode.
  #watch(): void {
    const name = basename(this.path);
    this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      this.#schedule();
    });
    this.#watcher.on('error', (err) => {
      this.#log.error({ policy: this.path, err }, 'policy watch failed; SIGHUP still reloads');
    });
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) this.#reload(true);
    }, this.#debounceMs);
    this.#timer.unref();
  }

  /** Stops watching and listening for SIGHUP. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#watcher?.close();
    if (this.#onHup) process.off('SIGHUP', this.#onHup);
    this.#onHup = undefined;
  }
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
