/** Shapes crossing the Durable Object RPC boundary. Errors travel as values: RPC loses error classes. */

/** Why a token could not be served. */
export type TokenFailure =
  | { ok: false; error: 'not_found' }
  | { ok: false; error: 'session_revoked' }
  | { ok: false; error: 'reauthorization_required' }
  | { ok: false; error: 'temporarily_unavailable'; retryAfterSeconds: number };

/** A user access token ready to hand out. */
export interface UserAccessToken {
  accessToken: string;
  expiresAt: number;
  /** When Twitch issued this access token (code exchange or refresh). */
  obtainedAt: number;
  scopes: string[];
  userId: string;
  login: string;
}

export type UserTokenResult = { ok: true; token: UserAccessToken } | TokenFailure;

/** A grant fresh from the code exchange, with who it belongs to (from /oauth2/validate). */
export interface NewGrant {
  userId: string;
  login: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  scopes: string[];
  validatedAt: number;
}

/** What storing a login's grant came to: `stored: false` when a broader live grant was kept; `scopes` are the grant the vault holds now. */
export interface StoreGrantOutcome {
  sessionVersion: number;
  stored: boolean;
  scopes: string[];
}

/**
 * What one validation of one user came to. `idle`: the access token has expired and no caller
 * asked for a new one, so no token of this user is in use and there is nothing to validate.
 */
export type ValidationOutcome = 'validated' | 'refreshed' | 'revoked' | 'failed' | 'skipped' | 'idle' | 'inactive' | 'handed_over';

/**
 * The sealed copy of a user's current access token (never the refresh token) that the vault hands
 * the sweep's directory, so that the directory validates it with Twitch without waking the vault.
 */
export interface AccessCopy {
  /** The vault's own sealed value: TOKEN_ENCRYPTION_KEY, purpose `user:<id>:access`. */
  sealedAccessToken: string;
  /** The grant's generation: a copy never replaces one of a later generation. */
  generation: number;
  expiresAt: number;
}

/**
 * The sweep's answer for one user: the outcome, when the user was last known valid, and the copy
 * of the current access token while the grant is active. `handed_over`: not validated by the vault,
 * whose copy the directory validates itself.
 */
export interface UserValidation {
  outcome: ValidationOutcome;
  lastValidatedAt: number | null;
  copy?: AccessCopy;
  /** The login Twitch reported with a 200 now (users may rename): the console's search follows it. */
  login?: string;
  /** With `idle`: when the access token expired (the directory sets the user aside only SET_ASIDE_AFTER_MS later). */
  expiredAt?: number;
}

/** What the directory asks of a vault it visits. */
export interface ValidateOptions {
  /** An operator's forced sweep: validate even if proven alive moments ago, with an audit entry. */
  force?: boolean;
  /** Hand over the copy instead of calling Twitch while the token has more than the refresh margin left. */
  handover?: boolean;
  /** Twitch has just called the copy of this generation invalid (401), to the directory: no second validate. */
  deadGeneration?: number;
  /**
   * Twitch has just said the copy is another user's token, to the directory: validate now (no skip
   * window, no handover), so the vault ends the grant on its own answer rather than the directory's.
   */
  recheck?: boolean;
}

/** The app access token as the minter hands it out. */
export interface AppAccessToken {
  accessToken: string;
  expiresAt: number;
}

export type AppTokenResult = { ok: true; token: AppAccessToken } | { ok: false; error: 'temporarily_unavailable'; retryAfterSeconds: number };

/** What the hourly check of the app token came to. */
export type AppTokenCheck = 'valid' | 'minted' | 'failed';

/** What an operator may see of a user (admin console, `GET /admin/users/:id`): never a token. */
export interface UserSummary {
  userId: string;
  login: string;
  status: 'active' | 'revoked' | 'logged_out' | 'deleted';
  scopes: string[];
  /** When the current access token expires; null without a grant. */
  expiresAt: number | null;
  /** When Twitch issued the current pair (login or refresh); null without a grant. */
  obtainedAt: number | null;
  /** The vault's newest proof of life: login, refresh, a validation it stored or still remembers. */
  lastValidatedAt: number | null;
  /** The last refresh attempt, from the audit trail: when, and whether Twitch answered with a new pair. */
  lastRefresh: { at: number; outcome: 'refreshed' | 'failed' } | null;
  revokedAt: number | null;
}

/** What an operator's forced refresh came to. */
export type ForcedRefreshOutcome =
  | { outcome: 'refreshed'; expiresAt: number }
  | { outcome: 'revoked' }
  | { outcome: 'unavailable'; retryAfterSeconds: number }
  | { outcome: 'no_grant'; status: UserSummary['status'] }
  | { outcome: 'not_found' };
