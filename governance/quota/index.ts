export { DailyQuota, QUERY_QUOTA_RULE, ROW_QUOTA_RULE, type DailyQuotaOptions, type QueryQuotaResult, type QuotaLimits, type RowGrant } from './daily-quota.js';
export { RowMeter } from './row-meter.js';
export { quotaDay, checkTimeZone } from './day.js';
