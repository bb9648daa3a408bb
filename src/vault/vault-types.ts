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

/**
 * What one validation of one user came to. `idle`: the access token has expired and no caller
 * asked for a new one, so no token of this user is in use and there is nothing to validate.
 */
export type ValidationOutcome = 'validated' | 'refreshed' | 'revoked' | 'failed' | 'skipped' | 'idle' | 'inactive';

/** The sweep's answer for one user: the outcome and when the user was last known valid. */
export interface UserValidation {
  outcome: ValidationOutcome;
  lastValidatedAt: number | null;
}

/** The app access token as the minter hands it out. */
export interface AppAccessToken {
  accessToken: string;
  expiresAt: number;
}

export type AppTokenResult =
  | { ok: true; token: AppAccessToken }
  | { ok: false; error: 'temporarily_unavailable'; retryAfterSeconds: number };

/** What the hourly check of the app token came to. */
export type AppTokenCheck = 'valid' | 'minted' | 'failed';
