import type { SweepEvidence } from '../sweep/user-directory';
import { utc } from './format';

const WIDTH = 600;
const HEIGHT = 120;
const GAP = 4;
/** Room for this many bars: the overview shows the last ten batches. */
const SLOTS = 10;

/**
 * The last batches as stacked bars, oldest on the left: validated or refreshed (green), skipped
 * (grey), failed or revoked (red), each bar as tall as its batch's visits against the largest.
 * Plain SVG elements with presentation attributes: nothing the console's CSP would block.
 */
export function BatchChart(props: { batches: readonly SweepEvidence[] }) {
  const batches = [...props.batches].reverse();
  const tallest = Math.max(1, ...batches.map((batch) => batch.visited));
  const barWidth = Math.floor(WIDTH / Math.max(SLOTS, batches.length)) - GAP;
  const scale = (count: number) => Math.round((count / tallest) * (HEIGHT - 10));
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width={WIDTH} height={HEIGHT} role="img" aria-label="visits of the last sweep batches">
      <line x1="0" y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} stroke="#c8c8d0" />
      {batches.map((batch, index) => {
        const x = index * (barWidth + GAP);
        const ok = scale(batch.validated + batch.refreshed);
        const skipped = scale(batch.skipped);
        const bad = scale(batch.failed + batch.revoked);
        return (
          <g>
            <title>
              batch {batch.batch} at {utc(batch.startedAt)}: {batch.validated} validated, {batch.refreshed} refreshed, {batch.skipped} skipped,{' '}
              {batch.failed} failed, {batch.revoked} revoked
            </title>
            <rect x={x} y={HEIGHT - ok} width={barWidth} height={ok} fill="#0a7d32" />
            <rect x={x} y={HEIGHT - ok - skipped} width={barWidth} height={skipped} fill="#c8c8d0" />
            <rect x={x} y={HEIGHT - ok - skipped - bad} width={barWidth} height={bad} fill="#b3261e" />
          </g>
        );
      })}
    </svg>
  );
}
