import type { Env } from '../env';
import { SWEEP_CYCLE_MS } from '../sweep/schedule';
import { outcomeCounts, SWEEP_OUTCOMES, type SweepOutcome } from '../sweep/sweep-counts';
import { EVIDENCE_KEPT, type SweepEvidence } from '../sweep/sweep-evidence';
import { batchEvidenceJson, isoTime } from './evidence-json';
import { userDirectory } from '../vault/stubs';
import { VALIDATION_INTERVAL_MS } from '../vault/timing';

/**
 * The evidence Twitch can ask for: that every token in use is validated hourly. Built from the
 * sweep's batch rows (each names the moments it covered and the users it could not validate) and
 * the directory's count of users in use; shared by the console and the JSON/CSV exports.
 */

/**
 * Batches read per hour of window: a directory of 100,000 users runs about 120 batches an hour, and
 * batches never come closer than a second. Should a window ever hold more, the oldest are left out
 * and the last hour's verdict, which needs whole coverage, errs towards "not established".
 */
const BATCHES_READ_PER_HOUR = 600;
/** The longest window an export may ask for. */
export const MAX_COMPLIANCE_HOURS = 24;

/** The last hour's verdict, and the batches of the window asked for. */
export interface ComplianceReport {
  generatedAt: number;
  /** Users whose token is in use now (the sweep's `in_use` count). */
  tokensInUse: number;
  /** Per outcome (SWEEP_OUTCOMES), summed over the hour's batches; and: */
  lastHour: Record<SweepOutcome, number> & {
    batches: number;
    /** How much of the sweep's cycle the hour's batches covered, without gaps. */
    coveredMs: number;
    /** Every user's moment came up in the hour: each user in use was visited. */
    complete: boolean;
    /** Users the hour's batches found revoked or could not validate. */
    notValidated: { userId: string; outcome: string }[];
    /**
     * Share of tokens in use validated within the hour (0..1): users in use less those listed as
     * failed, over users in use. Null while the hour's batches did not cover a whole cycle (the
     * first hour after deploying, a stalled sweep) or no token is in use.
     */
    shareValidated: number | null;
  };
  windowHours: number;
  /** The window's batches, newest first. */
  batches: SweepEvidence[];
}

/** The report for the last `windowHours` (1 to 24); the verdict is always the last hour's. */
export async function complianceReport(env: Env, windowHours: number, now = Date.now()): Promise<ComplianceReport> {
  const directory = userDirectory(env);
  const hours = Math.max(1, Math.min(MAX_COMPLIANCE_HOURS, Math.floor(windowHours)));
  const [stats, evidence] = await Promise.all([directory.stats(), directory.evidence(Math.min(EVIDENCE_KEPT, hours * BATCHES_READ_PER_HOUR))]);
  const hourAgo = now - VALIDATION_INTERVAL_MS;
  // Started within the hour: every validation such a batch made falls in the hour.
  const lastHour = evidence.filter((batch) => batch.startedAt >= hourAgo);
  const sum = (pick: (batch: SweepEvidence) => number) => lastHour.reduce((total, batch) => total + pick(batch), 0);
  const notValidated = lastHour.flatMap((batch) =>
    batch.notValidated.map((entry) => {
      const [userId = '', outcome = ''] = entry.split(':');
      return { userId, outcome };
    }),
  );
  const coveredMs = coveredLength(lastHour);
  const complete = coveredMs >= SWEEP_CYCLE_MS;
  // A user listed as failed counts as not validated even if a retry later in the hour succeeded: the conservative reading.
  const failedUsers = new Set(notValidated.filter((entry) => entry.outcome === 'failed').map((entry) => entry.userId));
  const inUse = stats.active;
  return {
    generatedAt: now,
    tokensInUse: inUse,
    lastHour: {
      batches: lastHour.length,
      coveredMs: Math.min(coveredMs, SWEEP_CYCLE_MS),
      complete,
      ...(Object.fromEntries(SWEEP_OUTCOMES.map((outcome) => [outcome, sum((batch) => batch[outcome])])) as Record<SweepOutcome, number>),
      notValidated,
      shareValidated: complete && inUse > 0 ? Math.max(0, inUse - failedUsers.size) / inUse : null,
    },
    windowHours: hours,
    batches: evidence.filter((batch) => batch.startedAt >= now - hours * 3_600_000),
  };
}

/** The length of the union of the batches' moment ranges: overlapping or touching ranges count once. */
function coveredLength(batches: readonly SweepEvidence[]): number {
  const ranges = batches.map((batch) => [batch.momentsFrom, batch.momentsTo] as const).sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = -Infinity;
  for (const [from, to] of ranges) {
    const start = Math.max(from, end);
    if (to > start) covered += to - start;
    end = Math.max(end, to);
  }
  return covered;
}

/** `Content-Disposition` of a download of the report: `compliance-<day generated>.<extension>`. */
export function complianceAttachment(report: ComplianceReport, extension: 'csv' | 'json'): string {
  return `attachment; filename="compliance-${new Date(report.generatedAt).toISOString().slice(0, 10)}.${extension}"`;
}

/** The CSV columns, in order: one row per batch. */
const CSV_COLUMNS = ['batch', 'started_at', 'finished_at', 'moments_from', 'moments_to', 'visited', ...SWEEP_OUTCOMES, 'not_validated'] as const;

/** The window's batches as CSV (RFC 4180, header row, CRLF), safe to open in a spreadsheet. */
export function complianceCsv(report: ComplianceReport): string {
  const rows = report.batches.map((batch) => {
    const row = complianceBatch(batch);
    return CSV_COLUMNS.map((column) => String(row[column]));
  });
  return `${[[...CSV_COLUMNS], ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

/**
 * One CSV cell, quoted. A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab,
 * carriage return first) gets a leading apostrophe: no value here should start so, but the
 * export must stay safe should one ever do.
 */
export function csvCell(value: string): string {
  const inert = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${inert.replace(/"/g, '""')}"`;
}

/** One batch as the JSON export and the CSV show it. */
const complianceBatch = (batch: SweepEvidence) => ({ ...batchEvidenceJson(batch), not_validated: batch.notValidated.join(' ') });

/** The report as the JSON export and `GET /admin/compliance.json` send it. */
export function complianceJson(report: ComplianceReport) {
  const iso = isoTime;
  const hour = report.lastHour;
  return {
    generated_at: iso(report.generatedAt),
    tokens_in_use: report.tokensInUse,
    last_hour: {
      share_validated: hour.shareValidated,
      complete: hour.complete,
      covered_minutes: Math.round(hour.coveredMs / 60_000),
      cycle_minutes: SWEEP_CYCLE_MS / 60_000,
      batches: hour.batches,
      ...outcomeCounts(hour),
      not_validated: hour.notValidated.map((entry) => ({ user_id: entry.userId, outcome: entry.outcome })),
    },
    window_hours: report.windowHours,
    batches: report.batches.map(complianceBatch),
  };
}

/** The JSON export's body. */
export type ComplianceBody = ReturnType<typeof complianceJson>;
