import { logEvent } from '../log';

/** What happened to a user's grant or sessions. */
export type AuditEventName =
  | 'logged_in'
  | 'login_kept_grant'
  | 'refreshed'
  | 'refresh_forced'
  | 'refresh_failed'
  | 'validated'
  | 'validate_failed'
  | 'revoked'
  | 'sessions_revoked'
  | 'logged_out'
  | 'deleted';

/** One entry of a user's audit trail: when, what, and a secret-free reason. */
export interface AuditEvent {
  at: number;
  event: AuditEventName;
  detail?: string;
}

/** The trail keeps the newest entries only: it is for operators, not an archive. */
const MAX_EVENTS = 200;
/** The events that set the user's status (active, revoked, logged out, deleted). */
const STATUS_CHANGES: ReadonlySet<AuditEventName> = new Set(['logged_in', 'revoked', 'logged_out', 'deleted']);

/**
 * The newest `max` events, except that the first login (when the user first authorized) and the
 * last status change (why the user is in the state they are) are never trimmed: months of
 * refreshes must not push out the two entries an operator asks about first.
 */
function trimmed(events: AuditEvent[], max: number): AuditEvent[] {
  if (events.length <= max) return events;
  const firstLogin = events.findIndex((entry) => entry.event === 'logged_in');
  let lastStatusChange = events.length - 1;
  while (lastStatusChange >= 0 && !STATUS_CHANGES.has(events[lastStatusChange]!.event)) lastStatusChange--;
  const pinned = new Set([firstLogin, lastStatusChange].filter((index) => index >= 0));
  let toDrop = events.length - max;
  return events.filter((_entry, index) => {
    if (pinned.has(index) || toDrop === 0) return true;
    toDrop--;
    return false;
  });
}

/**
 * A user's audit trail in memory, mirrored as one log line per event. Entries carry no token,
 * code or key: only the event and a reason. GrantStore stores it in one value with the record, so
 * an event and the change it records are written together.
 */
export class AuditTrail {
  private kept: AuditEvent[] = [];

  /** All kept events, oldest first. */
  get events(): AuditEvent[] {
    return this.kept;
  }

  /**
   * Takes the trail as stored, with any entries kept apart under the old `audit` key merged in by
   * time (a vault from before the move, or one a rolled-back deployment appended to since).
   */
  restore(events: AuditEvent[], keptApart: AuditEvent[] = []): void {
    if (keptApart.length === 0) {
      this.kept = events;
      return;
    }
    const sameEntry = (entry: AuditEvent) => `${entry.at}|${entry.event}|${entry.detail ?? ''}`;
    const known = new Set(events.map(sameEntry));
    const merged = [...events, ...keptApart.filter((entry) => !known.has(sameEntry(entry)))].sort((a, b) => a.at - b.at);
    this.kept = trimmed(merged, MAX_EVENTS);
  }

  /** Appends an event, trimming the oldest, and logs it. Returns the entry, for `amend`. */
  add(userId: string, event: AuditEventName, detail?: string): AuditEvent {
    logEvent(`user.${event}`, detail === undefined ? { userId } : { userId, detail });
    const entry: AuditEvent = detail === undefined ? { at: Date.now(), event } : { at: Date.now(), event, detail };
    this.kept.push(entry);
    this.kept = trimmed(this.kept, MAX_EVENTS);
    return entry;
  }

  /**
   * Gives an entry written before its outcome was known (a logout, before Twitch answered the
   * revocations) its reason, logged under its own name so that a log reader counting logouts
   * counts each once. False if it has been trimmed since.
   */
  amend(userId: string, entry: AuditEvent, detail: string): boolean {
    if (!this.kept.includes(entry)) return false;
    entry.detail = detail;
    logEvent(`user.${entry.event}_detail`, { userId, detail });
    return true;
  }
}
