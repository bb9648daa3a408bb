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

const STORAGE_KEY = 'audit';
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
 * A user's audit trail, kept in their vault's storage beside the grant, and mirrored as one log
 * line per event. Entries carry no token, code or key: only the event and a reason.
 */
export class AuditTrail {
  private events: AuditEvent[] | null = null;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Appends an event and logs it. */
  async append(userId: string, event: AuditEventName, detail?: string): Promise<void> {
    logEvent(`user.${event}`, detail === undefined ? { userId } : { userId, detail });
    const events = await this.list();
    events.push(detail === undefined ? { at: Date.now(), event } : { at: Date.now(), event, detail });
    this.events = trimmed(events, MAX_EVENTS);
    await this.storage.put(STORAGE_KEY, this.events);
  }

  /** All kept events, oldest first. */
  async list(): Promise<AuditEvent[]> {
    this.events ??= (await this.storage.get<AuditEvent[]>(STORAGE_KEY)) ?? [];
    return this.events;
  }
}
