/**
 * The quota day: the calendar date in the policy's `quota_time_zone`, so
 * that quotas roll over at local midnight wherever the nodes run. Every node
 * computes the same key for the same instant, whatever its own zone.
 */
import { SqlgateError } from '../errors.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hourCycle: 'h23' });
    } catch (err) {
      throw new SqlgateError('POLICY_INVALID', `sqlgate: quota_time_zone ${JSON.stringify(timeZone)} is not an IANA time zone this runtime knows`, { cause: err });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws POLICY_INVALID unless `timeZone` is a zone Intl knows. */
export function checkTimeZone(timeZone: string): void {
  formatter(timeZone);
}

/** `YYYY-MM-DD` of `instant` in `timeZone`. */
export function quotaDay(instant: Date, timeZone: string): string {
  let y = '', m = '', d = '';
  for (const part of formatter(timeZone).formatToParts(instant)) {
    if (part.type === 'year') y = part.value;
    else if (part.type === 'month') m = part.value;
    else if (part.type === 'day') d = part.value;
  }
  if (!/^\d{4}$/.test(y) || !/^\d{2}$/.test(m) || !/^\d{2}$/.test(d)) {
    throw new SqlgateError('INTERNAL', `sqlgate: cannot compute the quota day of ${instant.toISOString()} in ${timeZone}`);
  }
  return `${y}-${m}-${d}`;
}
