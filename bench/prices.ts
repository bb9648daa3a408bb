/**
 * Cloudflare's published prices and free quotas, as bench/cost.ts and bench/live-idle.ts price
 * counted operations (sources and the date read are listed at the top of bench/cost.ts).
 */
export const PRICES = {
  readOn: '2026-11-29',
  baseMonthly: 5,
  doRequests: { includedMonthly: 1e6, perMillion: 0.15, freeDaily: 100_000 },
  doGbSeconds: { includedMonthly: 400_000, perMillion: 12.5, freeDaily: 13_000 },
  rowsRead: { includedMonthly: 25e9, perMillion: 0.001, freeDaily: 5e6 },
  rowsWritten: { includedMonthly: 50e6, perMillion: 1.0, freeDaily: 100_000 },
  storageGb: { includedMonthly: 5, perGbMonth: 0.2, freeTotal: 5 },
  kvReads: { includedMonthly: 10e6, perMillion: 0.5, freeDaily: 100_000 },
  kvWrites: { includedMonthly: 1e6, perMillion: 5.0, freeDaily: 1_000 },
  workerRequests: { includedMonthly: 10e6, perMillion: 0.3, freeDaily: 100_000 },
  /** Standard: 30 million CPU ms a month included, then $0.02 per million ms; Free has no CPU billing (10 ms per invocation). */
  workerCpuMs: { includedMonthly: 30e6, perMillion: 0.02 },
  /**
   * Workers Logs (observability is on in wrangler.toml), per log event: each invocation's log and
   * each console line. developers.cloudflare.com/workers/observability/logs/workers-logs/#pricing,
   * read 2026-11-29: Free 200,000 a day, Paid 20 million a month + $0.60/million. From 2026-12-01
   * (developers.cloudflare.com/observability/pricing/): by volume instead, Free 0.5 GB a day, Paid
   * 50 GB a month + $0.25/GB ingested, 12 GB-month + $0.10/GB-month stored (seven days kept).
   */
  logEvents: { includedMonthly: 20e6, perMillion: 0.6, freeDaily: 200_000 },
  /** What bench/cost.ts prices logs with (today is past 2026-12-01); stored data (seven days kept) is left out. */
  observabilityFrom20261201: { freeDailyGb: 0.5, includedMonthlyGb: 50, perGb: 0.25 },
} as const;

/**
 * Duration is billed at 128 MB per object, whatever it uses, and Cloudflare counts 128 MB as
 * 0.128 GB (its pricing page's own example: "seconds * 128 MB / 1 GB").
 */
export const GB_PER_OBJECT = 0.128;
