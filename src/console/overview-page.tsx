import type { BrokerStatus } from '../admin/broker-status';
import type { SubscriptionLastCheck } from '../eventsub/last-check';
import type { ComplianceReport } from '../admin/compliance';
import { SWEEP_CYCLE_MS } from '../sweep/schedule';
import type { MetricsView } from '../metrics/metrics-query';
import { BatchChart } from './batch-chart';
import { MetricsChart, MetricsTotals } from './metrics-chart';
import { percent, relative, utc } from './format';
import { Layout, type Operator } from './layout';

/** The console's front page: the broker's health, the sweep, the compliance evidence, a user search. */
export function OverviewPage(props: { operator: Operator; status: BrokerStatus; compliance: ComplianceReport; metrics: MetricsView; now: number }) {
  const { status, compliance, now } = props;
  const problems = Object.entries(status.problems);
  const hour = compliance.lastHour;
  return (
    <Layout title="Overview" operator={props.operator}>
      <h1>Overview</h1>
      <form method="get" action="/admin/console/users" class="search">
        <label for="q">Find a user</label>
        <input id="q" name="q" type="search" placeholder="login prefix or user id" maxlength={25} />
        <button type="submit">Search</button>
      </form>

      <section>
        <h2>Configuration</h2>
        {problems.length === 0 ? (
          <p class="ok">Complete.</p>
        ) : (
          <ul class="problems">
            {problems.map(([setting, problem]) => (
              <li>
                <code>{setting}</code> {problem}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section class="panels">
        <div class="panel">
          <h2>App token</h2>
          {status.appToken ? (
            <dl>
              <dt>Held</dt>
              <dd class={status.appToken.expiresAt > now ? 'ok' : 'bad'}>{status.appToken.expiresAt > now ? 'yes' : 'expired'}</dd>
              <dt>Expires</dt>
              <dd>
                {utc(status.appToken.expiresAt)} ({relative(status.appToken.expiresAt, now)})
              </dd>
              <dt>Minted</dt>
              <dd>
                {utc(status.appToken.mintedAt)} ({relative(status.appToken.mintedAt, now)})
              </dd>
            </dl>
          ) : (
            <p>
              None minted yet: the first caller of <code>/token/app</code> or the hourly sweep mints one.
            </p>
          )}
        </div>
        <div class="panel">
          <h2>EventSub</h2>
          {status.eventSub.enabled ? (
            <dl>
              <dt>Webhook</dt>
              <dd class="ok">on</dd>
              <dt>Callback</dt>
              <dd>
                <code>{status.eventSub.callback}</code>
              </dd>
              <dt>Subscription</dt>
              <SubscriptionState check={status.eventSub.lastCheck} now={now} />
            </dl>
          ) : (
            <p>Off: {status.eventSub.reason}.</p>
          )}
        </div>
        <div class="panel">
          <h2>Sweep</h2>
          <dl>
            <dt>Users indexed</dt>
            <dd>{status.sweep.users}</dd>
            <dt>Tokens in use</dt>
            <dd>{status.sweep.inUse}</dd>
            <dt>Owed a visit now</dt>
            <dd>{status.sweep.due}</dd>
          </dl>
        </div>
      </section>

      <section>
        <h2>Compliance: tokens in use validated within the hour</h2>
        {hour.shareValidated !== null ? (
          <p class={hour.shareValidated === 1 ? 'share ok' : 'share bad'}>{percent(hour.shareValidated)}</p>
        ) : (
          <p class="share pending">
            {compliance.tokensInUse === 0
              ? 'No token is in use.'
              : `Not established yet: the last hour's batches covered ${Math.round(hour.coveredMs / 60_000)} of the sweep's ${SWEEP_CYCLE_MS / 60_000} minutes.`}
          </p>
        )}
        <p>
          {compliance.tokensInUse} tokens in use; in the last hour {hour.batches} batches validated {hour.validated}, refreshed {hour.refreshed}, skipped{' '}
          {hour.skipped} (proven alive minutes before, or no token in use), failed {hour.failed}, found {hour.revoked} revoked.
        </p>
        {hour.notValidated.length > 0 && (
          <ul>
            {hour.notValidated.map((entry) => (
              <li>
                <a href={`/admin/console/users/${entry.userId}`}>{entry.userId}</a>: {entry.outcome}
              </li>
            ))}
          </ul>
        )}
        <p>
          Export the last 24 hours' batches: <a href="/admin/console/compliance.csv?hours=24">CSV</a> ·{' '}
          <a href="/admin/console/compliance.json?hours=24">JSON</a>
        </p>
      </section>

      <section>
        <h2>Refreshes, revocations and Twitch errors, last 24 hours (Analytics Engine)</h2>
        {props.metrics.state === 'ok' ? (
          <>
            <MetricsChart report={props.metrics.report} />
            <MetricsTotals report={props.metrics.report} />
          </>
        ) : props.metrics.state === 'failed' ? (
          <p class="bad">Could not read the metrics: {props.metrics.reason}.</p>
        ) : (
          <p>Not charted: {props.metrics.reason}.</p>
        )}
      </section>

      <section>
        <h2>Last sweep batches</h2>
        {status.sweep.recentBatches.length === 0 ? (
          <NoBatchYet inUse={status.sweep.inUse} nextBatchAt={status.sweep.nextBatchAt} now={now} />
        ) : (
          <>
            <BatchChart batches={status.sweep.recentBatches} />
            <table>
              <thead>
                <tr>
                  <th>batch</th>
                  <th>started</th>
                  <th>moments covered</th>
                  <th>visited</th>
                  <th>validated</th>
                  <th>refreshed</th>
                  <th>revoked</th>
                  <th>failed</th>
                  <th>skipped</th>
                </tr>
              </thead>
              <tbody>
                {status.sweep.recentBatches.map((batch) => (
                  <tr>
                    <td>{batch.batch}</td>
                    <td>{relative(batch.startedAt, now)}</td>
                    <td>
                      {utc(batch.momentsFrom)} – {utc(batch.momentsTo)}
                    </td>
                    <td>{batch.visited}</td>
                    <td>{batch.validated}</td>
                    <td>{batch.refreshed}</td>
                    <td class={batch.revoked > 0 ? 'bad' : ''}>{batch.revoked}</td>
                    <td class={batch.failed > 0 ? 'bad' : ''}>{batch.failed}</td>
                    <td>{batch.skipped}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
    </Layout>
  );
}

const CHECK_WORDS: Record<SubscriptionLastCheck['outcome'], string> = {
  exists: 'live',
  created: 'created',
  failed: 'check failed',
  revoked: 'revoked by Twitch; the next hourly check subscribes again',
};

/** The subscription as its last hourly check (or Twitch's revocation since) left it. */
/**
 * Before the first batch: the cron only wakes the directory, which visits each user at their own
 * moment in the hour, so an empty table right after the hourly run (or the README's
 * `__scheduled` curl) is expected. Says so, and when the first batch is due.
 */
function NoBatchYet(props: { inUse: number; nextBatchAt: number | null; now: number }) {
  if (props.inUse === 0) return <p>No batch has run yet: no token is in use, so the hourly sweep has no one to validate.</p>;
  if (props.nextBatchAt === null) return <p>No batch has run yet: the next hourly run (cron, on the hour) schedules the first.</p>;
  return (
    <p>
      No batch has run yet: the hourly sweep validates each user at their own moment within the hour. The first batch is due at {utc(props.nextBatchAt)} (
      {relative(props.nextBatchAt, props.now)}).
    </p>
  );
}

function SubscriptionState(props: { check: SubscriptionLastCheck | null; now: number }) {
  const { check, now } = props;
  if (check === null) return <dd>not checked yet: the hourly cron checks it</dd>;
  const healthy = check.outcome === 'exists' || check.outcome === 'created';
  return (
    <dd class={healthy ? 'ok' : 'bad'}>
      {CHECK_WORDS[check.outcome]}
      {check.detail === undefined ? '' : ` (${check.detail})`}, {relative(check.at, now)}
    </dd>
  );
}
