import { env as workerEnv } from 'cloudflare:workers';
import type { Env } from '../env';
import { logEvent } from '../log';
import type { RevocationReason } from '../notify/broker-event';
import { visitedIn, type SweepCounts } from '../sweep/sweep-counts';
import { TwitchError } from '../twitch/twitch-error';

/**
 * Optional Workers Analytics Engine metrics: the one place that writes data points. Without the
 * `METRICS` binding every function here is a no-op, and a failing write is logged, never thrown:
 * metrics must not turn a served token into an error.
 *
 * Every data point has the same layout, so one SQL query can chart them all:
 *   index1, blob1  the event: `refresh`, `sweep_batch`, `revocation`, `twitch_error`
 *   blob2, blob3   the event's labels (see each function)
 *   double1        always 1, so `SUM(_sample_interval * double1)` counts events of any kind
 *   double2…       the event's numbers
 * No token, code, key or user id is ever written: the index is the event name (Analytics Engine
 * samples per index, so each event keeps its own accuracy), and per-user detail stays in the logs.
 */
export type MetricEvent = 'refresh' | 'sweep_batch' | 'revocation' | 'twitch_error';

/**
 * The dataset, from the Worker's own bindings: Twitch calls are made deep in code that holds no
 * `env` (`callTwitch`), and the binding is the same for every request of a deployment.
 */
function dataset(): AnalyticsEngineDataset | undefined {
  return (workerEnv as Partial<Pick<Env, 'METRICS'>>).METRICS;
}

function write(event: MetricEvent, blobs: string[], doubles: number[]): void {
  const metrics = dataset();
  if (metrics === undefined) return;
  try {
    metrics.writeDataPoint({ indexes: [event], blobs: [event, ...blobs], doubles });
  } catch (error) {
    logEvent('metrics.write_failed', { metric: event, reason: error instanceof Error ? error.name : 'unknown' });
  }
}

/** How a refresh at Twitch ended: a new pair, a dead refresh token, another refusal, or no answer. */
export type RefreshOutcome = 'ok' | 'revoked' | 'rejected' | 'unavailable';

/** Classifies what a refresh at Twitch threw. */
function refreshOutcomeOf(error: unknown): RefreshOutcome {
  if (error instanceof TwitchError) return error.isDeadRefreshToken ? 'revoked' : error.kind;
  return 'unavailable';
}

/**
 * One user-token refresh at Twitch. blob2: outcome; blob3: `request` (a caller waited) or `background`
 * (the sweep); double2: milliseconds Twitch took, retries included.
 */
export function recordRefresh(outcome: RefreshOutcome, trigger: 'request' | 'background', durationMs: number): void {
  write('refresh', [outcome, trigger], [1, durationMs]);
}

/** Runs a refresh at Twitch and records how it ended and how long it took; rethrows what it throws. */
export async function measuredRefresh<T>(trigger: 'request' | 'background', refresh: () => Promise<T>): Promise<T> {
  const startedAt = Date.now();
  try {
    const fresh = await refresh();
    recordRefresh('ok', trigger, Date.now() - startedAt);
    return fresh;
  } catch (error) {
    recordRefresh(refreshOutcomeOf(error), trigger, Date.now() - startedAt);
    throw error;
  }
}

/** A grant Twitch no longer honours. blob2: how it was found out (`sweep`, `refresh_refused`, `eventsub`). */
export function recordRevocation(detectedBy: RevocationReason): void {
  write('revocation', [detectedBy], [1]);
}

/**
 * A call to Twitch that failed for want of an answer (5xx, 429, timeout, dropped connection,
 * unreadable body), after its retries. Definitive 4xx refusals are answers, not errors: a dead
 * token shows up as a revocation, a pending device code is just pending. blob2: the endpoint's path
 * (never the query); blob3: the error kind; double2: the HTTP status, 0 when none came.
 */
export function recordTwitchError(endpoint: string, error: unknown): void {
  if (!(error instanceof TwitchError) || error.kind !== 'unavailable') return;
  write('twitch_error', [endpoint, error.kind], [1, error.status]);
}

/** What a sweep batch came to, as one word: every user settled, or some still owed a retry. */
export type BatchOutcome = 'ok' | 'some_failed' | 'error';

/**
 * One sweep batch, whatever its size: a JSON log line (`sweep.batch`) and one data point, not one per
 * user, so a deployment stays within Analytics Engine's free daily quota. blob2: what started it
 * (`alarm`, or `run`: the cron or POST /admin/sweep); blob3: outcome; doubles 2–9: users visited,
 * validated, refreshed, revoked, failed, skipped, still owed, and the batch's milliseconds.
 */
export async function observeBatch(trigger: 'alarm' | 'run', runBatch: () => Promise<SweepCounts>): Promise<SweepCounts> {
  const startedAt = Date.now();
  let counts: SweepCounts;
  try {
    counts = await runBatch();
  } catch (error) {
    const durationMs = Date.now() - startedAt;
    logEvent('sweep.batch', { trigger, outcome: 'error', durationMs, reason: error instanceof Error ? error.name : 'unknown' });
    write('sweep_batch', [trigger, 'error'], [1, 0, 0, 0, 0, 0, 0, 0, durationMs]);
    throw error;
  }
  const durationMs = Date.now() - startedAt;
  const visited = visitedIn(counts);
  const outcome: BatchOutcome = counts.failed > 0 ? 'some_failed' : 'ok';
  logEvent('sweep.batch', { trigger, outcome, durationMs, visited, ...counts });
  write(
    'sweep_batch',
    [trigger, outcome],
    [1, visited, counts.validated, counts.refreshed, counts.revoked, counts.failed, counts.skipped, counts.remaining, durationMs],
  );
  return counts;
}
