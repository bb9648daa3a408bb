import type { AdminUser, AdminUserPage } from '../admin/users';
import { relative, utc } from './format';
import { Layout, type Operator } from './layout';

/** A time cell: relative, with the absolute time beside it; a dash when there is none. */
export function When(props: { at: number | null; now: number }) {
  if (props.at === null) return <span class="none">—</span>;
  return (
    <time datetime={new Date(props.at).toISOString()} title={utc(props.at)}>
      {relative(props.at, props.now)}
    </time>
  );
}

/** `active`, `revoked`, `logged out`, `dropped`. */
export const statusLabel = (status: AdminUser['status']): string =>
  ({ active: 'active', revoked: 'revoked', logged_out: 'logged out', deleted: 'dropped', unknown: 'unknown' })[status];

/** A page of users, searchable by login prefix or id, paged by position (never by offset). */
export function UsersPage(props: { operator: Operator; query: string; page: AdminUserPage; now: number; invalidQuery?: boolean }) {
  const { page, now } = props;
  const nextHref = page.next ? `/admin/console/users?${new URLSearchParams({ ...(props.query ? { q: props.query } : {}), after: page.next })}` : null;
  return (
    <Layout title="Users" operator={props.operator}>
      <h1>Users</h1>
      <form method="get" action="/admin/console/users" class="search">
        <label for="q">Login prefix or user id</label>
        <input id="q" name="q" type="search" value={props.query} maxlength={25} />
        <button type="submit">Search</button>
      </form>
      {props.invalidQuery && <p class="notice error">A login holds only letters, digits and _ (at most 25), a user id only digits.</p>}
      {page.users.length === 0 ? (
        <p>No user matches.</p>
      ) : (
        <table class="users">
          <thead>
            <tr>
              <th>login</th>
              <th>id</th>
              <th>status</th>
              <th>sweep</th>
              <th>scopes</th>
              <th>token expires</th>
              <th>last validation</th>
              <th>last refresh</th>
            </tr>
          </thead>
          <tbody>
            {page.users.map((user) => (
              <tr>
                <td>
                  <a href={`/admin/console/users/${user.userId}`}>{user.login ?? '(unknown)'}</a>
                </td>
                <td>{user.userId}</td>
                <td class={user.status === 'active' ? 'ok' : 'bad'}>{statusLabel(user.status)}</td>
                <td>{user.sweep.replace('_', ' ')}</td>
                <td class="scopes">{user.scopes.join(' ')}</td>
                <td>
                  <When at={user.expiresAt} now={now} />
                </td>
                <td>
                  <When at={user.lastValidatedAt} now={now} />
                </td>
                <td>
                  <When at={user.lastRefresh?.at ?? null} now={now} />
                  {user.lastRefresh?.outcome === 'failed' && <span class="bad"> (failed)</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {nextHref && (
        <p>
          <a href={nextHref} rel="next">
            Next page
          </a>
        </p>
      )}
    </Layout>
  );
}
