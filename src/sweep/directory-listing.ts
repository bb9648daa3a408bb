import { cycleStart, SWEEP_CYCLE_MS } from './schedule';

/**
 * The operator's view of the directory (the admin console, `GET /admin/users`): logins, search
 * and keyset paging over the `users` table. Kept apart from the sweep: it only reads what the sweep
 * writes, plus the `login` column that logins write. Every query walks an index from a position
 * and stops after one page, so a page costs the same at 100 users and at 100,000 (never OFFSET,
 * never a COUNT over the table).
 */

/** Most users on one page. */
export const MAX_PAGE_SIZE = 100;

/** What the directory knows of one user (the vault knows the rest): no secrets. */
export interface DirectoryEntry {
  userId: string;
  /** Null for users registered before logins were kept (filled in by their next login). */
  login: string | null;
  /** In the sweep, set aside while no token of theirs is in use, or out for good. */
  sweep: 'in_use' | 'idle' | 'gone';
  /**
   * The last moment of this user's the sweep has passed while they were in use and owed no visit
   * (so that visit found them alive, or proven alive within three minutes before); null when
   * that cannot be said.
   */
  sweptAt: number | null;
}

/** One page: entries in order, the position to continue from (null: the last page), and the rows SQLite read. */
export interface DirectoryPage {
  entries: DirectoryEntry[];
  next: string | null;
  rowsRead: number;
}

/** What to list: everyone by id, or a search; `after` is the `next` of the previous page. */
export interface DirectoryQuery {
  search: DirectorySearch | null;
  after: string | null;
  limit: number;
}

/** A login prefix (lowercase), and the exact user id it may also be. */
export interface DirectorySearch {
  loginPrefix: string;
  userId: string | null;
}

/** Twitch logins: 1 to 25 of a-z, 0-9 and _, always lowercase. */
const LOGIN_PREFIX = /^[a-z0-9_]{1,25}$/;
const USER_ID = /^[0-9]{1,20}$/;
/** `next` of a search page: `<login>:<user id>`; of the full list: `<user id>`. */
export const PAGE_POSITION = /^(?:[a-z0-9_]{1,25}:)?[0-9]{1,20}$/;
/** Sorts after every character a login can hold (`_`, digits, letters): `prefix~` bounds the prefix's range. */
const AFTER_LOGIN_CHARACTERS = '~';

/**
 * Reads a search box: empty lists everyone; digits are a user id or the start of a login; anything
 * else must be the start of a login (case does not matter: Twitch logins are lowercase). Null:
 * nothing a login or id could start with.
 */
export function parseSearch(text: string | undefined): DirectorySearch | null | 'invalid' {
  const query = (text ?? '').trim().toLowerCase();
  if (query === '') return null;
  if (!LOGIN_PREFIX.test(query)) return USER_ID.test(query) ? { loginPrefix: '', userId: query } : 'invalid';
  return { loginPrefix: query, userId: USER_ID.test(query) ? query : null };
}

type UserRow = { user_id: string; login: string | null; active: number; next_due_at: number; slot: number };

/** `users.active`, as user-directory.ts writes it. */
const SWEEP_STATES: Record<number, DirectoryEntry['sweep']> = { 1: 'in_use', 2: 'idle', 0: 'gone' };

/** One page of the directory for `query` (see the module comment). */
export function listDirectory(sql: SqlStorage, query: DirectoryQuery): DirectoryPage {
  const limit = Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor(query.limit)));
  let rowsRead = 0;
  const read = (statement: string, ...bindings: (string | number)[]): UserRow[] => {
    const cursor = sql.exec<UserRow>(statement, ...bindings);
    const rows = cursor.toArray();
    rowsRead += cursor.rowsRead;
    return rows;
  };
  const columns = 'user_id, login, active, next_due_at, slot';
  const cursorAt = sql.exec<{ cursor_at: number }>('SELECT cursor_at FROM sweep_state').toArray()[0]?.cursor_at ?? null;

  let rows: UserRow[];
  let exact: UserRow[] = [];
  const search = query.search;
  if (!search) {
    // Everyone, by id: the primary key's own index, from the position on.
    rows = read(`SELECT ${columns} FROM users WHERE user_id > ? ORDER BY user_id LIMIT ?`, query.after ?? '', limit + 1);
  } else {
    // An exact id comes first, on the first page only; the login range follows without it.
    if (search.userId !== null && query.after === null) exact = read(`SELECT ${columns} FROM users WHERE user_id = ?`, search.userId);
    if (search.loginPrefix === '') {
      rows = [];
    } else {
      const [afterLogin = '', afterUser = ''] = query.after?.includes(':') ? query.after.split(':') : [];
      const upper = search.loginPrefix + AFTER_LOGIN_CHARACTERS;
      // A position outside this prefix (edited by hand, or from another search) starts the search over.
      rows = afterLogin.startsWith(search.loginPrefix)
        ? // From the position: the row-value comparison is what SQLite seeks users_by_login with, so a
          // page deep in a large prefix reads one page of rows, not the rows before it.
          read(
            `SELECT ${columns} FROM users INDEXED BY users_by_login
             WHERE (login, user_id) > (?, ?) AND login < ? AND user_id IS NOT ?
             ORDER BY login, user_id LIMIT ?`,
            afterLogin,
            afterUser,
            upper,
            search.userId ?? '',
            limit + 1,
          )
        : read(
            `SELECT ${columns} FROM users INDEXED BY users_by_login
             WHERE login >= ? AND login < ? AND user_id IS NOT ?
             ORDER BY login, user_id LIMIT ?`,
            search.loginPrefix,
            upper,
            search.userId ?? '',
            limit + 1,
          );
    }
  }
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const next = more && last ? (search ? `${last.login ?? ''}:${last.user_id}` : last.user_id) : null;
  return { entries: [...exact, ...page].map((row) => entryOf(row, cursorAt)), next, rowsRead };
}

function entryOf(row: UserRow, cursorAt: number | null): DirectoryEntry {
  const sweep = SWEEP_STATES[row.active] ?? 'gone';
  return { userId: row.user_id, login: row.login, sweep, sweptAt: sweep === 'in_use' && row.next_due_at === 0 ? lastMomentBefore(row.slot, cursorAt) : null };
}

/** The last time the cycle reached `slot` before the sweep's cursor: every user's moment before it has been visited. */
function lastMomentBefore(slot: number, cursorAt: number | null): number | null {
  if (cursorAt === null) return null;
  const moment = cycleStart(cursorAt) + slot;
  return moment < cursorAt ? moment : moment - SWEEP_CYCLE_MS;
}

/**
 * Adds the `login` column and its index to a directory made before logins were kept. Rows from
 * before keep a null login until the user logs in again; the console then shows the login the
 * user's vault holds.
 */
export function migrateDirectoryLogins(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>('PRAGMA table_info(users)').toArray();
  if (!columns.some((column) => column.name === 'login')) sql.exec('ALTER TABLE users ADD COLUMN login TEXT');
  // Written once per login, never by the sweep, so it adds nothing to the sweep's writes.
  sql.exec('CREATE INDEX IF NOT EXISTS users_by_login ON users (login, user_id)');
}

/** Records users' logins (lowercase), writing only rows whose login changed. */
export function recordLogins(sql: SqlStorage, users: readonly { userId: string; login: string }[]): void {
  for (const { userId, login } of users) {
    sql.exec('UPDATE users SET login = ? WHERE user_id = ? AND login IS NOT ?', login.toLowerCase(), userId, login.toLowerCase());
  }
}
