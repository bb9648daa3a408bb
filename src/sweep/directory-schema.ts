import { migrateDirectoryLogins } from './directory-listing';
import { slotOf } from './schedule';
import { migrateEvidence } from './sweep-evidence';

/**
 * The directory's tables and how a directory made by an earlier version is brought up to date
 * (docs/storage.md describes each column). Run once per object start, inside
 * `blockConcurrencyWhile`; every step is idempotent.
 */

/** `users.active`: in the sweep, set aside until a caller brings them back, or out for good. */
export const IN_USE = 1;
export const IDLE = 2;
export const GONE = 0;
/** `users.next_due_at` of a user visited at their moment in the cycle, with nothing owed besides. */
export const ON_MOMENT = 0;

/** The one `sweep_state` row: the cursor, a forced pass's position, the counters and the batch number. */
export type StateRow = {
  cursor_at: number;
  cursor_user: string | null;
  forced_slot: number | null;
  forced_user: string | null;
  in_use: number;
  idle: number;
  gone: number;
  batches: number;
};

/** Creates or upgrades every table and index of the directory. */
export function migrateDirectory(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    next_due_at INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    forced INTEGER NOT NULL DEFAULT 0
  )`);
  // `forced` and `slot` came after the first version of the table: add them to tables made before.
  const columns = sql.exec<{ name: string }>('PRAGMA table_info(users)').toArray();
  if (!columns.some((column) => column.name === 'forced')) sql.exec('ALTER TABLE users ADD COLUMN forced INTEGER NOT NULL DEFAULT 0');
  if (!columns.some((column) => column.name === 'slot')) {
    sql.exec('ALTER TABLE users ADD COLUMN slot INTEGER NOT NULL DEFAULT 0');
    // Rows of the first version keep their `next_due_at`: each is visited once more at that time.
    for (const { user_id: userId } of sql.exec<{ user_id: string }>('SELECT user_id FROM users').toArray()) {
      sql.exec('UPDATE users SET slot = ? WHERE user_id = ?', slotOf(userId), userId);
    }
  }
  // Neither index holds `active`: a user going idle or coming back rewrites one row, no index
  // entry. `users_schedule` serves both the owed (next_due_at > 0, by time) and the users on
  // their moment (next_due_at = 0, in (slot, user_id) order from the cursor); `users_by_moment`
  // serves a forced pass over everyone.
  migrateAccessCopies(sql);
  sql.exec('DROP INDEX IF EXISTS users_due');
  sql.exec('CREATE INDEX IF NOT EXISTS users_schedule ON users (next_due_at, slot, user_id)');
  sql.exec('CREATE INDEX IF NOT EXISTS users_by_moment ON users (slot, user_id)');
  sql.exec(`CREATE TABLE IF NOT EXISTS sweep_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cursor_at INTEGER NOT NULL,
    cursor_user TEXT,
    forced_slot INTEGER,
    forced_user TEXT,
    in_use INTEGER NOT NULL,
    idle INTEGER NOT NULL,
    gone INTEGER NOT NULL,
    batches INTEGER NOT NULL
  )`);
  migrateEvidence(sql);
  if (sql.exec('SELECT 1 FROM sweep_state').toArray().length === 0) {
    // Counters instead of scans; a directory from before counts its rows once, here.
    const counts = sql
      .exec<{ in_use: number; idle: number; gone: number }>(
        `SELECT COALESCE(SUM(active = ${IN_USE}), 0) AS in_use, COALESCE(SUM(active = ${IDLE}), 0) AS idle,
                COALESCE(SUM(active = ${GONE}), 0) AS gone FROM users`,
      )
      .one();
    sql.exec(
      'INSERT INTO sweep_state (id, cursor_at, cursor_user, in_use, idle, gone, batches) VALUES (1, ?, NULL, ?, ?, ?, 0)',
      Date.now(),
      counts.in_use,
      counts.idle,
      counts.gone,
    );
  }
  // The admin console's logins and search (src/sweep/directory-listing.ts).
  migrateDirectoryLogins(sql);
}

/**
 * Migration step (issue 12): the sealed copy of each user's current access token, which the sweep
 * validates without waking the vault (src/sweep/access-copies.ts). No index holds these columns,
 * so storing a copy (once per token a vault hands over) writes one row and no index entry.
 */
function migrateAccessCopies(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>('PRAGMA table_info(users)').toArray();
  if (columns.some((column) => column.name === 'sealed_access')) return;
  sql.exec('ALTER TABLE users ADD COLUMN sealed_access TEXT');
  sql.exec('ALTER TABLE users ADD COLUMN copy_generation INTEGER');
  sql.exec('ALTER TABLE users ADD COLUMN copy_expires_at INTEGER');
}
