/**
 * IP allow lists: single addresses, `a-b` ranges and CIDR blocks, IPv4 and
 * IPv6, given as a YAML list or one comma-separated string (at most 1,000
 * entries). Pure: no I/O.
 *
 * Every address lives in one 128-bit space in which the IPv4 address
 * `a.b.c.d` is the same point as the IPv4-mapped IPv6 address
 * `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2). So a client that a dual-stack socket
 * reports as `::ffff:10.0.0.1` matches the entry `10.0.0.0/8`, and an entry
 * written as `::ffff:10.0.0.1` matches the IPv4 client `10.0.0.1`. A
 * consequence worth knowing: an IPv6 block that contains `::ffff:0:0/96`
 * (`::/0`, say) contains every IPv4 address too.
 *
 * The arithmetic is done on bigints rather than with `net.BlockList`, which
 * cannot say which entry is malformed (the loader must name its line) and
 * has no entry count; the tests use BlockList as an independent oracle.
 */
import { SqlgateError } from '../errors.js';

/** Most entries one list may hold (the platforms' published limit). */
export const MAX_ALLOW_ENTRIES = 1000;

/** A parsed allow list. */
export interface AllowList {
  /** Number of entries as written (before merging overlaps). */
  readonly size: number;
  /** True when the address is covered; an empty list covers every address. */
  matches(ip: string): boolean;
}

/** An entry that does not parse; `index` is its 0-based position in the list. */
export class AllowListError extends SqlgateError {
  readonly index: number;
  readonly entry: string;
  readonly reason: string;

  constructor(index: number, entry: string, reason: string) {
    super('POLICY_INVALID', `ip_allow entry ${index + 1} '${entry}': ${reason}`);
    this.name = 'AllowListError';
    this.index = index;
    this.entry = entry;
    this.reason = reason;
  }
}

/** Family after folding IPv4-mapped IPv6 into IPv4. */
type Family = 4 | 6;

interface Address {
  readonly family: Family;
  /** Position in the 128-bit space (IPv4 as ::ffff:a.b.c.d). */
  readonly value: bigint;
  /** True when written in IPv6 notation (decides the prefix-length scale). */
  readonly v6Notation: boolean;
}

const MAPPED_BASE = 0xffffn << 32n;
const MAX128 = (1n << 128n) - 1n;

/** Parses dotted-quad IPv4; leading zeros are refused since some parsers read them as octal. */
function parseV4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let out = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out = out * 256 + n;
  }
  return out;
}

/** Parses IPv6 text (with `::` and an optional dotted-quad tail) into 128 bits. */
function parseV6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  let head = text;
  let tailWords: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) >= 0) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailWords = [v4 >>> 16, v4 & 0xffff];
    // Keep the colon so that "::1.2.3.4" still has its "::".
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const dbl = head.indexOf('::');
  if (dbl >= 0 && head.indexOf('::', dbl + 1) >= 0) return undefined;
  const words = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const w of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  let all: number[];
  if (dbl >= 0) {
    const left = words(head.slice(0, dbl));
    const right = words(head.slice(dbl + 2));
    if (!left || !right) return undefined;
    const fill = 8 - tailWords.length - left.length - right.length;
    // "::" stands for at least one zero group.
    if (fill < 1) return undefined;
    all = [...left, ...new Array<number>(fill).fill(0), ...right, ...tailWords];
  } else {
    const w = words(head);
    if (!w) return undefined;
    all = [...w, ...tailWords];
  }
  if (all.length !== 8) return undefined;
  let v = 0n;
  for (const w of all) v = (v << 16n) | BigInt(w);
  return v;
}

function parseAddress(text: string): Address | undefined {
  if (text.includes(':')) {
    const v = parseV6(text);
    if (v === undefined) return undefined;
    const mapped = v >> 32n === 0xffffn;
    return { family: mapped ? 4 : 6, value: v, v6Notation: true };
  }
  const v4 = parseV4(text);
  if (v4 === undefined) return undefined;
  return { family: 4, value: MAPPED_BASE + BigInt(v4), v6Notation: false };
}

interface Interval {
  lo: bigint;
  hi: bigint;
}

/** Parses one entry into a closed interval, or returns the reason it is invalid. */
function parseEntry(raw: string): Interval | string {
  const text = raw.trim();
  if (text === '') return 'empty entry';
  if (text.includes(',')) return 'one entry per list item (commas separate entries only in the string form)';
  if (text.includes('%')) return 'zone indexes (%) are not allowed';
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const addr = parseAddress(text.slice(0, slash));
    if (!addr) return `'${text.slice(0, slash)}' is not an IPv4 or IPv6 address`;
    const lenText = text.slice(slash + 1);
    const max = addr.v6Notation ? 128 : 32;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > max) {
      return `prefix length '${lenText}' must be 0..${max}`;
    }
    // IPv4 prefixes count within the mapped block's last 32 bits.
    const bits = addr.v6Notation ? Number(lenText) : 96 + Number(lenText);
    const hostMask = bits === 128 ? 0n : (1n << BigInt(128 - bits)) - 1n;
    const lo = addr.value & (MAX128 ^ hostMask);
    return { lo, hi: lo | hostMask };
  }
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const aText = text.slice(0, dash).trim();
    const bText = text.slice(dash + 1).trim();
    const a = parseAddress(aText);
    const b = parseAddress(bText);
    if (!a) return `'${aText}' is not an IPv4 or IPv6 address`;
    if (!b) return `'${bText}' is not an IPv4 or IPv6 address`;
    if (a.family !== b.family) return 'range ends are of different address families';
    if (a.value > b.value) return 'range start is above its end';
    return { lo: a.value, hi: b.value };
  }
  const a = parseAddress(text);
  if (!a) return `'${text}' is not an IPv4 or IPv6 address, a-b range or CIDR block`;
  return { lo: a.value, hi: a.value };
}

/** Splits a list value into entries as written. */
export function allowListEntries(value: string | readonly string[]): string[] {
  if (typeof value !== 'string') return [...value];
  if (value.trim() === '') return [];
  return value.split(',');
}

/**
 * Parses an allow list. Throws AllowListError naming the first bad entry
 * (its 0-based index and text), or the 1,001st entry of a too-long list.
 */
export function parseAllowList(value: string | readonly string[]): AllowList {
  const entries = allowListEntries(value);
  if (entries.length > MAX_ALLOW_ENTRIES) {
    throw new AllowListError(MAX_ALLOW_ENTRIES, entries[MAX_ALLOW_ENTRIES] ?? '',
      `a list holds at most ${MAX_ALLOW_ENTRIES} entries (this one has ${entries.length})`);
  }
  const intervals: Interval[] = [];
  entries.forEach((e, i) => {
    if (typeof e !== 'string') throw new AllowListError(i, String(e), 'entry must be a string');
    const r = parseEntry(e);
    if (typeof r === 'string') throw new AllowListError(i, e.trim(), r);
    intervals.push(r);
  });
  return new IntervalList(entries.length, merge(intervals));
}

/** Sorts and merges overlapping or adjacent intervals so lookup is a binary search. */
function merge(list: Interval[]): Interval[] {
  const sorted = [...list].sort((x, y) => (x.lo < y.lo ? -1 : x.lo > y.lo ? 1 : 0));
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last && iv.lo <= last.hi + 1n) {
      if (iv.hi > last.hi) last.hi = iv.hi;
    } else {
      out.push({ lo: iv.lo, hi: iv.hi });
    }
  }
  return out;
}

class IntervalList implements AllowList {
  readonly size: number;
  readonly #intervals: readonly Interval[];

  constructor(size: number, intervals: Interval[]) {
    this.size = size;
    this.#intervals = intervals;
  }

  matches(ip: string): boolean {
    if (this.size === 0) return true;
    const v = clientAddressValue(ip);
    if (v === undefined) return false; // an address we cannot read is not on the list
    let lo = 0;
    let hi = this.#intervals.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const iv = this.#intervals[mid];
      if (v < iv.lo) hi = mid - 1;
      else if (v > iv.hi) lo = mid + 1;
      else return true;
    }
    return false;
  }
}

/** A client address as sockets report it (zone index stripped) in the shared space. */
function clientAddressValue(ip: string): bigint | undefined {
  let text = ip.trim();
  const pct = text.indexOf('%');
  if (pct >= 0 && text.includes(':')) text = text.slice(0, pct);
  return parseAddress(text)?.value;
}

/**
 * Canonical text of a client address: IPv4-mapped IPv6 becomes dotted IPv4,
 * so logs, audit records and allow lists all speak of the same address.
 * Returns the input unchanged if it is not an address.
 */
export function normalizeClientAddress(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (m && parseV4(m[1]) !== undefined) return m[1];
  return ip;
}

/** True when the text is a single IPv4 or IPv6 address (no range, no prefix). */
export function isIpAddress(text: string): boolean {
  return parseAddress(text) !== undefined;
}
