import type { AdminUser } from '../admin/users';
import type { AuditEvent } from '../vault/audit-trail';
import { utc } from './format';
import { CsrfField, Layout, type Operator } from './layout';
import { statusLabel, When } from './users-page';

/** What the last action on this page came to, carried in the redirect after the POST (no secret). */
export const ACTION_RESULTS = {
  refreshed: 'Refreshed: Twitch issued a new token pair, and the replaced access token is being revoked at Twitch.',
  refresh_unavailable: 'Twitch did not refresh the token just now (it failed recently or is not answering). Nothing was changed; try again shortly.',
  refresh_revoked: 'Twitch refused the refresh token: the user is now marked revoked and must log in again.',
  no_grant: 'This user holds no grant to refresh.',
  dropped: 'Dropped: the tokens were revoked at Twitch, the grant forgotten and every session ended. The audit trail is kept.',
} as const;
export type ActionResult = keyof typeof ACTION_RESULTS;

/** One user: what the broker knows (never a token), the operator's actions, the audit trail. */
export function UserPage(props: { operator: Operator; user: AdminUser; events: AuditEvent[]; result?: ActionResult; now: number }) {
  const { user, now } = props;
  const base = `/admin/console/users/${user.userId}`;
  return (
    <Layout title={user.login ?? user.userId} operator={props.operator}>
      <h1>
        {user.login ?? '(unknown login)'} <span class="id">{user.userId}</span>
      </h1>
      {props.result && <p class={props.result === 'refreshed' || props.result === 'dropped' ? 'notice ok' : 'notice error'}>{ACTION_RESULTS[props.result]}</p>}
      <dl class="user">
        <dt>Status</dt>
        <dd class={user.status === 'active' ? 'ok' : 'bad'}>{statusLabel(user.status)}</dd>
        <dt>Sweep</dt>
        <dd>{user.sweep.replace('_', ' ')}</dd>
        <dt>Scopes</dt>
        <dd class="scopes">{user.scopes.length > 0 ? user.scopes.join(' ') : '—'}</dd>
        <dt>Token expires</dt>
        <dd>
          <When at={user.expiresAt} now={now} /> {user.expiresAt !== null && <span class="abs">{utc(user.expiresAt)}</span>}
        </dd>
        <dt>Token issued</dt>
        <dd>
          <When at={user.obtainedAt} now={now} />
        </dd>
        <dt>Last validation</dt>
        <dd>
          <When at={user.lastValidatedAt} now={now} />
        </dd>
        <dt>Last refresh</dt>
        <dd>
          <When at={user.lastRefresh?.at ?? null} now={now} />
          {user.lastRefresh && ` (${user.lastRefresh.outcome})`}
        </dd>
        {user.revokedAt !== null && (
          <>
            <dt>Revoked</dt>
            <dd>
              <When at={user.revokedAt} now={now} />
            </dd>
          </>
        )}
      </dl>

      {user.status === 'active' && (
        <section class="actions">
          <h2>Actions</h2>
          <form method="post" action={`${base}/refresh`}>
            <CsrfField operator={props.operator} />
            <button type="submit">Force refresh</button>
            <span class="hint">Asks Twitch for a new token pair now and revokes the current access token: for a token you suspect.</span>
          </form>
          <form method="post" action={`${base}/drop`} class="danger">
            <CsrfField operator={props.operator} />
            <label>
              <input type="checkbox" name="confirm" value="drop" required /> Revoke this user's tokens at Twitch, forget the grant and end their sessions
            </label>
            <button type="submit" class="danger">
              Drop user
            </button>
          </form>
        </section>
      )}

      <section>
        <h2>Audit trail</h2>
        {props.events.length === 0 ? (
          <p>No events.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>when</th>
                <th>event</th>
                <th>detail</th>
              </tr>
            </thead>
            <tbody>
              {[...props.events].reverse().map((entry) => (
                <tr>
                  <td>{utc(entry.at)}</td>
                  <td>{entry.event}</td>
                  <td>{entry.detail ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </Layout>
  );
}
