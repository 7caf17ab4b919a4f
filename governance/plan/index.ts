export { FullScanGuard, FULL_SCAN_RULE, fullScanError, type BigTable, type ExplainFn, type FullScanGuardOptions, type FullScanVerdict } from './full-scan-guard.js';
export { explainStatement, readPlan, type PlanReading, type PlanScan } from './plan-scans.js';
