import { outcomeCounts } from '../sweep/sweep-counts';
import type { SweepEvidence } from '../sweep/sweep-evidence';

/** Times in the admin routes' bodies and exports: ISO 8601, UTC. */
export const isoTime = (at: number): string => new Date(at).toISOString();

/** A sweep batch's times and counts, as the admin routes and exports show them. */
export function batchSummaryJson(batch: SweepEvidence) {
  return {
    batch: batch.batch,
    started_at: isoTime(batch.startedAt),
    finished_at: isoTime(batch.finishedAt),
    visited: batch.visited,
    ...outcomeCounts(batch),
  };
}

/** A batch's summary with the moments of the cycle it covered: the evidence of the hourly validation. */
export function batchEvidenceJson(batch: SweepEvidence) {
  return { ...batchSummaryJson(batch), moments_from: isoTime(batch.momentsFrom), moments_to: isoTime(batch.momentsTo) };
}
