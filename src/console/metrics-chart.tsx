import type { MetricsReport } from '../metrics/metrics-query';
import { utc } from './format';

const WIDTH = 600;
const HEIGHT = 120;
const GAP = 2;

/**
 * The last 24 hours from Analytics Engine as stacked bars, oldest on the left: refreshes that
 * worked (green), refreshes Twitch refused or did not answer (grey), revocations (red), Twitch
 * errors (orange), each bar as tall as its hour's events against the busiest hour. Plain SVG with
 * presentation attributes, like the batch chart: nothing the console's CSP would block.
 */
export function MetricsChart(props: { report: MetricsReport }) {
  const { hours } = props.report;
  const total = (hour: MetricsReport['hours'][number]) => hour.refreshesOk + hour.refreshesFailed + hour.revocations + hour.twitchErrors;
  const tallest = Math.max(1, ...hours.map(total));
  const barWidth = Math.floor(WIDTH / hours.length) - GAP;
  const scale = (count: number) => Math.round((count / tallest) * (HEIGHT - 10));
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width={WIDTH} height={HEIGHT} role="img" aria-label="refreshes, revocations and Twitch errors per hour">
      <line x1="0" y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} stroke="#c8c8d0" />
      {hours.map((hour, index) => {
        const x = index * (barWidth + GAP);
        const stack = [
          [scale(hour.refreshesOk), '#0a7d32'],
          [scale(hour.refreshesFailed), '#8a8a96'],
          [scale(hour.revocations), '#b3261e'],
          [scale(hour.twitchErrors), '#d9822b'],
        ] as const;
        let top = HEIGHT;
        return (
          <g>
            <title>
              {utc(hour.hour)}: {Math.round(hour.refreshesOk)} refreshed, {Math.round(hour.refreshesFailed)} refreshes failed, {Math.round(hour.revocations)} revoked,{' '}
              {Math.round(hour.twitchErrors)} Twitch errors
            </title>
            {stack.map(([height, fill]) => {
              top -= height;
              return <rect x={x} y={top} width={barWidth} height={height} fill={fill} />;
            })}
          </g>
        );
      })}
    </svg>
  );
}

/** The day's totals by event and label (`refresh ok`, `twitch_error /oauth2/token`, …). */
export function MetricsTotals(props: { report: MetricsReport }) {
  if (props.report.totals.length === 0) return <p>No refreshes, revocations or Twitch errors in the last 24 hours.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>event</th>
          <th>label</th>
          <th>last 24 h</th>
        </tr>
      </thead>
      <tbody>
        {props.report.totals.map((total) => (
          <tr>
            <td>{total.event}</td>
            <td>{total.label}</td>
            <td class={total.event === 'refresh' && total.label === 'ok' ? '' : 'bad'}>{Math.round(total.count)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
