import { outcomeCounts, SWEEP_OUTCOMES, visitedIn, type SweepCounts, type SweepOutcome } from './sweep-counts';

/**
 * The sweep's evidence: one row per batch, in a ring, brought up to date after each round: when it
 * ran, which moments it covered, its counts, and the users it found revoked or could not validate
 * (to be retried). A user in use whose moment falls in a batch's range and who is not listed was
 * validated by it (or had been proven alive minutes before, or had no token in use: `skipped`).
 */

/** Batches whose evidence is kept (a ring): a day at 100,000 users, longer with fewer. */
export const EVIDENCE_KEPT = 10_000;

/** One batch's evidence: the moments it covered, its counts and `userId:outcome` of each user not validated. */
export type SweepEvidence = Record<SweepOutcome, number> & {
  batch: number;
  startedAt: number;
  finishedAt: number;
  momentsFrom: number;
  momentsTo: number;
  visited: number;
  notValidated: string[];
};

/** What a batch has done so far, as `recordEvidence` writes it. */
export interface BatchProgress {
  batch: number;
  startedAt: number;
  momentsFrom: number;
  momentsTo: number;
  counts: SweepCounts;
  notValidated: readonly string[];
}

type EvidenceRow = Record<SweepOutcome, number> & {
  batch: number;
  started_at: number;
  finished_at: number;
  moments_from: number;
  moments_to: number;
  visited: number;
  not_validated: string;
};

/** The outcome columns, named as the outcomes are (validated, refreshed, revoked, failed, skipped). */
const OUTCOME_COLUMNS = SWEEP_OUTCOMES.join(', ');

/** Creates the evidence ring's table. */
export function migrateEvidence(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS sweep_evidence (
    ring INTEGER PRIMARY KEY,
    batch INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    moments_from INTEGER NOT NULL,
    moments_to INTEGER NOT NULL,
    visited INTEGER NOT NULL,
    ${SWEEP_OUTCOMES.map((outcome) => `${outcome} INTEGER NOT NULL,`).join('\n    ')}
    not_validated TEXT NOT NULL
  )`);
}

/** Writes (or rewrites) the batch's row in the ring: one row written per round. */
export function recordEvidence(sql: SqlStorage, progress: BatchProgress): void {
  const { counts } = progress;
  sql.exec(
    `INSERT INTO sweep_evidence (ring, batch, started_at, finished_at, moments_from, moments_to, visited, ${OUTCOME_COLUMNS},
       not_validated) VALUES (?, ?, ?, ?, ?, ?, ?, ${SWEEP_OUTCOMES.map(() => '?').join(', ')}, ?)
     ON CONFLICT(ring) DO UPDATE SET batch = excluded.batch, started_at = excluded.started_at, finished_at = excluded.finished_at,
       moments_from = excluded.moments_from, moments_to = excluded.moments_to, visited = excluded.visited,
       ${SWEEP_OUTCOMES.map((outcome) => `${outcome} = excluded.${outcome}`).join(', ')}, not_validated = excluded.not_validated`,
    progress.batch % EVIDENCE_KEPT,
    progress.batch,
    progress.startedAt,
    Date.now(),
    progress.momentsFrom,
    progress.momentsTo,
    visitedIn(counts),
    ...SWEEP_OUTCOMES.map((outcome) => counts[outcome]),
    progress.notValidated.join(' '),
  );
}

/** The kept evidence, newest first. */
export function readEvidence(sql: SqlStorage, limit: number): SweepEvidence[] {
  return sql
    .exec<EvidenceRow>('SELECT * FROM sweep_evidence ORDER BY batch DESC LIMIT ?', limit)
    .toArray()
    .map((row) => ({
      batch: row.batch,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      momentsFrom: row.moments_from,
      momentsTo: row.moments_to,
      visited: row.visited,
      ...outcomeCounts(row),
      notValidated: row.not_validated === '' ? [] : row.not_validated.split(' '),
    }));
}
