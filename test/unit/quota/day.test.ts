import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quotaDay, checkTimeZone } from '../../../governance/quota/day.js';
import { SqlgateError } from '../../../governance/errors.js';

test('quota day is the calendar date in the configured zone, not UTC', () => {
  const t = new Date('2026-03-01T15:30:00Z');
  assert.equal(quotaDay(t, 'UTC'), '2026-03-01');
  assert.equal(quotaDay(t, 'Asia/Tokyo'), '2026-03-02'); // UTC+9: already past midnight
  assert.equal(quotaDay(new Date('2026-03-02T05:00:00Z'), 'America/Los_Angeles'), '2026-03-01'); // UTC-8: still the evening before
  assert.equal(quotaDay(new Date('2026-03-01T10:00:00Z'), 'Pacific/Kiritimati'), '2026-03-02'); // UTC+14
  assert.equal(quotaDay(new Date('2026-03-01T10:00:00Z'), 'Asia/Kolkata'), '2026-03-01');
  assert.equal(quotaDay(new Date('2026-03-01T18:30:00Z'), 'Asia/Kolkata'), '2026-03-02'); // UTC+5:30, exactly midnight
});

test('the Tokyo day turns at 15:00 UTC to the millisecond', () => {
  assert.equal(quotaDay(new Date('2026-06-30T14:59:59.999Z'), 'Asia/Tokyo'), '2026-06-30');
  assert.equal(quotaDay(new Date('2026-06-30T15:00:00.000Z'), 'Asia/Tokyo'), '2026-07-01');
});

test('daylight saving time moves the UTC instant of local midnight', () => {
  // Berlin is UTC+1 in winter, UTC+2 in summer.
  assert.equal(quotaDay(new Date('2026-01-10T23:00:00Z'), 'Europe/Berlin'), '2026-01-11');
  assert.equal(quotaDay(new Date('2026-01-10T22:59:59Z'), 'Europe/Berlin'), '2026-01-10');
  assert.equal(quotaDay(new Date('2026-07-10T22:00:00Z'), 'Europe/Berlin'), '2026-07-11');
  assert.equal(quotaDay(new Date('2026-07-10T21:59:59Z'), 'Europe/Berlin'), '2026-07-10');
});

test('year boundary and leap day', () => {
  assert.equal(quotaDay(new Date('2027-12-31T20:00:00Z'), 'Asia/Tokyo'), '2028-01-01');
  assert.equal(quotaDay(new Date('2028-02-29T12:00:00Z'), 'UTC'), '2028-02-29');
});

test('an unknown zone is a policy error', () => {
  assert.throws(() => checkTimeZone('Mars/Olympus_Mons'), (e: unknown) => e instanceof SqlgateError && e.code === 'POLICY_INVALID');
  assert.throws(() => quotaDay(new Date(), 'not a zone'), SqlgateError);
  checkTimeZone('Europe/Berlin');
});
