import type { SweepEvidence } from '../sweep/user-directory';
import { utc } from './format';
import { StackedBars } from './stacked-bars';

/** Room for this many bars: the overview shows the last ten batches. */
const SLOTS = 10;

/**
 * The last batches as stacked bars, oldest on the left: validated or refreshed (green), skipped
 * (grey), failed or revoked (red), each bar as tall as its batch's visits against the largest.
 */
export function BatchChart(props: { batches: readonly SweepEvidence[] }) {
  const bars = [...props.batches].reverse().map((batch) => ({
    title: `batch ${batch.batch} at ${utc(batch.startedAt)}: ${batch.validated} validated, ${batch.refreshed} refreshed, ${batch.skipped} skipped, ${batch.failed} failed, ${batch.revoked} revoked`,
    segments: [
      [batch.validated + batch.refreshed, '#0a7d32'],
      [batch.skipped, '#c8c8d0'],
      [batch.failed + batch.revoked, '#b3261e'],
    ] as const,
  }));
  return <StackedBars label="visits of the last sweep batches" bars={bars} slots={SLOTS} gap={4} />;
}
