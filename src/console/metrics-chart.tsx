import type { MetricsReport } from '../metrics/metrics-query';
import { utc } from './format';
import { StackedBars } from './stacked-bars';

/**
 * The last 24 hours from Analytics Engine as stacked bars, oldest on the left: refreshes that
 * worked (green), refreshes Twitch refused or did not answer (grey), revocations (red), Twitch
 * errors (orange), each bar as tall as its hour's events against the busiest hour.
 */
export function MetricsChart(props: { report: MetricsReport }) {
  const round = Math.round;
  const bars = props.report.hours.map((hour) => ({
    title: `${utc(hour.hour)}: ${round(hour.refreshesOk)} refreshed, ${round(hour.refreshesFailed)} refreshes failed, ${round(hour.revocations)} revoked, ${round(hour.twitchErrors)} Twitch errors`,
    segments: [
      [hour.refreshesOk, '#0a7d32'],
      [hour.refreshesFailed, '#8a8a96'],
      [hour.revocations, '#b3261e'],
      [hour.twitchErrors, '#d9822b'],
    ] as const,
  }));
  return <StackedBars label="refreshes, revocations and Twitch errors per hour" bars={bars} slots={bars.length} gap={2} />;
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
