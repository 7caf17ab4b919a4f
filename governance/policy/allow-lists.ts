/**
 * The policy's IP allow lists, parsed once per policy object (a reload makes
 * a new object, so the cache follows reloads by itself).
 *
 * Meaning of "not configured", per level:
 *  - global `ip_allow` absent: loopback only (127.0.0.0/8, ::1) — the safe
 *    default of a new deployment; write `ip_allow: []` for no restriction;
 *  - instance / user `ip_allow` absent or empty: no restriction at that level;
 *  - listener `trusted_proxies` absent or empty: nobody may send a PROXY
 *    header (an empty list must not mean "trust everyone").
 */
import type { Policy } from '../../rules/policy-schema.js';
import { parseAllowList, type AllowList } from './ip-allow.js';

/** Loopback only: the global default when the policy names no list. */
export const LOOPBACK_ONLY = ['127.0.0.0/8', '::1'] as const;

export interface PolicyAllowLists {
  /** The list every connection must pass first. */
  readonly global: AllowList;
  /** An instance's list (matches everything when the instance has none). */
  instance(name: string): AllowList;
  /** A user's list (matches everything when the user has none). */
  user(name: string): AllowList;
  /** True when `ip` may send a PROXY header to listeners[index]. */
  trustedProxy(listenerIndex: number, ip: string): boolean;
}

const NO_RESTRICTION = parseAllowList([]);
const cache = new WeakMap<Policy, PolicyAllowLists>();

/** The parsed allow lists of a validated policy (entries were checked at load). */
export function allowListsOf(policy: Policy): PolicyAllowLists {
  let lists = cache.get(policy);
  if (lists) return lists;
  const parse = (v: string | readonly string[] | undefined) => (v === undefined ? NO_RESTRICTION : parseAllowList(v));
  const instances = new Map(Object.entries(policy.instances).map(([n, i]) => [n, parse(i.ip_allow)]));
  const users = new Map(Object.entries(policy.users).map(([n, u]) => [n, parse(u.ip_allow)]));
  const proxies = policy.listeners.map((l) => parse(l.trusted_proxies));
  lists = {
    global: policy.ip_allow === undefined ? parseAllowList(LOOPBACK_ONLY) : parseAllowList(policy.ip_allow),
    instance: (name) => instances.get(name) ?? NO_RESTRICTION,
    user: (name) => users.get(name) ?? NO_RESTRICTION,
    trustedProxy: (index, ip) => {
      const l = proxies[index];
      return l !== undefined && l.size > 0 && l.matches(ip);
    },
  };
  cache.set(policy, lists);
  return lists;
}
