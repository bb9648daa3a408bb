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
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
    await this.storage.put(STORAGE_KEY, events);
  }

  /** All kept events, oldest first. */
  async list(): Promise<AuditEvent[]> {
    this.events ??= (await this.storage.get<AuditEvent[]>(STORAGE_KEY)) ?? [];
    return this.events;
  }
}
