/**
 * What one sweep batch did, counted once here: the directory, the metrics, the admin bodies and
 * the compliance exports all read these names. A leaf module (imports nothing), so metrics and the
 * Twitch client can use it without pulling in the directory class.
 */

/** The outcomes a batch counts, in the order reports and exports list them. */
export const SWEEP_OUTCOMES = ['validated', 'refreshed', 'revoked', 'failed', 'skipped'] as const;
export type SweepOutcome = (typeof SWEEP_OUTCOMES)[number];

/** A batch's tally: one number per outcome, and the users still owed a visit. */
export type SweepCounts = Record<SweepOutcome, number> & {
  /** Users still owed a visit outside their regular moment (overdue, retries, a forced pass). */
  remaining: number;
};
// `skipped`: not validated: proven alive moments ago, idle (token expired, nobody asked), or gone.

/** A tally with nothing counted yet. */
export const emptySweepCounts = (): SweepCounts => ({ validated: 0, refreshed: 0, revoked: 0, failed: 0, skipped: 0, remaining: 0 });

/** The users a batch visited: every one it settled one way or another. */
export const visitedIn = (counts: SweepCounts): number => SWEEP_OUTCOMES.reduce((sum, outcome) => sum + counts[outcome], 0);

/** The outcome counts of any record holding them (a tally, an evidence row), and nothing else, in SWEEP_OUTCOMES order. */
export const outcomeCounts = (from: Record<SweepOutcome, number>): Record<SweepOutcome, number> =>
  Object.fromEntries(SWEEP_OUTCOMES.map((outcome) => [outcome, from[outcome]])) as Record<SweepOutcome, number>;
