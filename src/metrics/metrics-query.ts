import * as z from 'zod/mini';
import { getConfig, type MetricsQuerySettings } from '../config';
import type { Env } from '../env';
import { logEvent } from '../log';

/**
 * Reads the METRICS dataset back for the console's chart, through Analytics Engine's SQL API (the
 * in-Worker SQL binding needs a newer wrangler than Node 20 runs). One query per page view, so a
 * console left open costs nothing; the Free plan allows 10,000 queries a day.
 */

/** The events the chart shows, per hour; sweep batches have their own chart from the broker's evidence. */
export interface MetricsHour {
  /** Start of the hour, ms since the epoch. */
  hour: number;
  refreshesOk: number;
  /** Refreshes Twitch refused or did not answer (outcomes revoked, rejected, unavailable). */
  refreshesFailed: number;
  revocations: number;
  twitchErrors: number;
}

export interface MetricsReport {
  /** The last 24 hours, oldest first, one entry per hour (zeros included). */
  hours: MetricsHour[];
  /** Totals over those hours by event and label, e.g. `refresh ok`, `twitch_error /oauth2/token`. */
  totals: { event: string; label: string; count: number }[];
}

export type MetricsResult = { ok: true; report: MetricsReport } | { ok: false; reason: string };

const HOUR_MS = 3_600_000;
const HOURS = 24;
const QUERY_TIMEOUT_MS = 5_000;

/** Hourly counts of refreshes, revocations and Twitch errors over the last day. */
export function metricsQuery(dataset: string): string {
  return `SELECT intDiv(toUInt32(timestamp), 3600) * 3600 AS hour, blob1 AS event, blob2 AS label, SUM(_sample_interval * double1) AS count
FROM ${dataset}
WHERE (index1 = 'refresh' OR index1 = 'revocation' OR index1 = 'twitch_error') AND timestamp > NOW() - INTERVAL '1' DAY
GROUP BY hour, event, label
ORDER BY hour
FORMAT JSON`;
}

// ClickHouse's JSON format may quote 64-bit numbers: accept both.
const numeric = z.union([z.number(), z.string().check(z.regex(/^\d+(\.\d+)?$/))]);
const sqlAnswer = z.object({
  data: z.array(z.object({ hour: numeric, event: z.string(), label: z.string(), count: numeric })),
});

export async function readMetrics(settings: MetricsQuerySettings, now: number): Promise<MetricsResult> {
  let response: Response;
  try {
    response = await fetch(`${settings.apiBaseUrl}/accounts/${settings.accountId}/analytics_engine/sql`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${settings.apiToken}` },
      body: metricsQuery(settings.dataset),
      signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
    });
  } catch (error) {
    const reason = error instanceof Error && error.name === 'TimeoutError' ? 'no answer within 5 s' : 'unreachable';
    logEvent('metrics.query_failed', { reason });
    return { ok: false, reason };
  }
  if (!response.ok) {
    // The body may explain (a missing permission, an unknown dataset); the status is enough here and holds nothing secret.
    await response.body?.cancel();
    const reason =
      response.status === 401 || response.status === 403
        ? `HTTP ${response.status}: check CF_ANALYTICS_TOKEN (Account Analytics Read)`
        : `HTTP ${response.status}`;
    logEvent('metrics.query_failed', { reason });
    return { ok: false, reason };
  }
  const parsed = sqlAnswer.safeParse(await response.json().catch(() => null));
  if (!parsed.success) {
    logEvent('metrics.query_failed', { reason: 'unexpected answer' });
    return { ok: false, reason: 'unexpected answer from the SQL API' };
  }
  return {
    ok: true,
    report: summarize(
      parsed.data.data.map((row) => ({ ...row, hour: Number(row.hour) * 1000, count: Number(row.count) })),
      now,
    ),
  };
}

function summarize(rows: { hour: number; event: string; label: string; count: number }[], now: number): MetricsReport {
  const lastHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const hours: MetricsHour[] = Array.from({ length: HOURS }, (_, index) => ({
    hour: lastHour - (HOURS - 1 - index) * HOUR_MS,
    refreshesOk: 0,
    refreshesFailed: 0,
    revocations: 0,
    twitchErrors: 0,
  }));
  const totals = new Map<string, { event: string; label: string; count: number }>();
  for (const row of rows) {
    // `NOW() - INTERVAL '1' DAY` reaches into a 25th hour: the totals add up what the bars show.
    const hour = hours[(row.hour - hours[0]!.hour) / HOUR_MS];
    if (hour === undefined) continue;
    const key = `${row.event} ${row.label}`;
    const total = totals.get(key) ?? { event: row.event, label: row.label, count: 0 };
    total.count += row.count;
    totals.set(key, total);
    if (row.event === 'refresh') {
      if (row.label === 'ok') hour.refreshesOk += row.count;
      else hour.refreshesFailed += row.count;
    } else if (row.event === 'revocation') hour.revocations += row.count;
    else if (row.event === 'twitch_error') hour.twitchErrors += row.count;
  }
  return { hours, totals: [...totals.values()].sort((a, b) => a.event.localeCompare(b.event) || b.count - a.count) };
}

/** What the console's metrics panel shows: the chart, or why there is none. */
export type MetricsView = { state: 'off'; reason: string } | { state: 'failed'; reason: string } | { state: 'ok'; report: MetricsReport };

export async function metricsForConsole(env: Env, now: number): Promise<MetricsView> {
  let settings: MetricsQuerySettings | null;
  try {
    settings = getConfig(env).metricsQuery;
  } catch {
    return { state: 'off', reason: 'see the configuration problems' };
  }
  if (settings === null) {
    return {
      state: 'off',
      reason: env.METRICS ? 'set CF_ACCOUNT_ID and CF_ANALYTICS_TOKEN to chart them here' : 'the METRICS dataset is not bound (wrangler.toml)',
    };
  }
  const result = await readMetrics(settings, now);
  return result.ok ? { state: 'ok', report: result.report } : { state: 'failed', reason: result.reason };
}
