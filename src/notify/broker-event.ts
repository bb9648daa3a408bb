/**
 * Events the broker tells the app about (POST to NOTIFY_URL). They name users and what happened,
 * never a token.
 */
export type BrokerEventType = 'user.authorized' | 'user.revoked' | 'user.scopes_changed' | 'app_token.rotated';

/** Why a user's grant ended. `identity_mismatch`: Twitch said its token is another user's. */
export type RevocationReason = 'eventsub' | 'refresh_refused' | 'sweep' | 'identity_mismatch' | 'deleted' | 'logged_out';

/** One event as delivered: `{id, type, occurred_at, user_id?, …}`. */
export interface BrokerEvent {
  id: string;
  type: BrokerEventType;
  /** ISO 8601. */
  occurred_at: string;
  user_id?: string;
  [field: string]: unknown;
}

/** A new event with a fresh id, stamped now. */
export function brokerEvent(type: BrokerEventType, fields: Record<string, unknown> = {}, now = Date.now()): BrokerEvent {
  return { id: crypto.randomUUID(), type, occurred_at: new Date(now).toISOString(), ...fields };
}
