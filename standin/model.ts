/** An OAuth application registered with the stand-in, as given to `createTwitchStandin`. */
export interface StandinClient {
  clientId: string;
  clientSecret: string;
  /** Empty or absent: any http(s) URL whose path is `/callback` is accepted. Otherwise an exact match is required. */
  redirectUris?: string[];
}

/** A Twitch account that can log in on the consent page. */
export interface StandinUser {
  id: string;
  /** Lowercase user name, as /oauth2/validate reports it. */
  login: string;
  /** Cased user name, as the id_token's preferred_username carries it. */
  displayName: string;
  email: string;
}

/** A user as callers may describe it: display name and email are derived when left out. */
export interface StandinUserInput {
  id: string;
  login: string;
  displayName?: string;
  email?: string;
}

/** Behaviour knobs that tests may change at run time through POST /_standin/config. */
export interface StandinConfig {
  userAccessTokenTtlSeconds: number;
  appAccessTokenTtlSeconds: number;
  authorizationCodeTtlSeconds: number;
  /** Whether a refresh kills the access token the grant held before (twitch_oauth2 says it does; unconfirmed). */
  refreshRevokesPreviousAccessToken: boolean;
}

/** Options for `createTwitchStandin`. */
export interface StandinOptions {
  clients?: StandinClient[];
  users?: StandinUserInput[];
  /** The `iss` of id_tokens and discovery; Twitch's own issuer by default so brokers can hard-code it. */
  issuer?: string;
  /** Clock in epoch milliseconds; used for every expiry, the call log and rate-limit headers. */
  now?: () => number;
  /** How long a `hang` fault waits before giving up with 504 (default 60 000 ms). */
  hangTimeoutMs?: number;
  /** Starting values for the run-time config; `reset` returns to these. */
  config?: Partial<StandinConfig>;
}

/** A client after defaults are applied. */
export interface RegisteredClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

/** What the authorize step knows when it mints a code. */
export interface AuthorizationCodeRequest {
  clientId: string;
  userId: string;
  scopes: string[];
  redirectUri: string;
  nonce: string | null;
  /** The raw OIDC `claims` parameter, a JSON string, if the authorize request carried one. */
  claimsRequest: string | null;
}

/** An authorization code waiting to be exchanged at /oauth2/token. */
export interface AuthorizationCodeRecord extends AuthorizationCodeRequest {
  code: string;
  expiresAt: number;
  redeemed: boolean;
}

/** An access token, user or app. `userId` is null for app tokens. */
export interface AccessTokenRecord {
  token: string;
  clientId: string;
  userId: string | null;
  scopes: string[];
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
  /** The user grant this token belongs to; null for app tokens. */
  grantId: string | null;
}

/** Lifecycle of one refresh token: `spent` means rotated away by a refresh, `revoked` means killed otherwise. */
export type RefreshTokenStatus = 'live' | 'spent' | 'revoked';

/** A refresh token and where it stands. */
export interface RefreshTokenRecord {
  token: string;
  grantId: string;
  status: RefreshTokenStatus;
  spentAt: number | null;
}

/** One user's authorization of one client: the chain of tokens that refreshes extend. */
export interface GrantRecord {
  id: string;
  clientId: string;
  userId: string;
  scopes: string[];
  liveRefreshToken: string | null;
  latestAccessToken: string;
}

/** A spent refresh token presented again, which Twitch refuses and tests want to catch. */
export interface RefreshTokenReuse {
  refreshToken: string;
  clientId: string;
  userId: string;
  spentAt: number;
  reusedAt: number;
}

/** What a user grant or refresh hands back: the new access token and its paired refresh token. */
export interface UserTokenIssue {
  accessToken: AccessTokenRecord;
  refreshToken: string;
}

export const DEFAULT_CLIENT: StandinClient = {
  clientId: 'standin-client-id',
  clientSecret: 'standin-client-secret',
  redirectUris: [],
};

export const DEFAULT_USERS: StandinUserInput[] = [
  { id: '100001', login: 'streamer_alice', displayName: 'Streamer_Alice', email: 'alice@example.test' },
  { id: '100002', login: 'mod_bob', displayName: 'Mod_Bob', email: 'bob@example.test' },
  { id: '100003', login: 'viewer_carol', displayName: 'Viewer_Carol', email: 'carol@example.test' },
];

export const DEFAULT_CONFIG: StandinConfig = {
  userAccessTokenTtlSeconds: 14400,
  appAccessTokenTtlSeconds: 5011271,
  authorizationCodeTtlSeconds: 600,
  refreshRevokesPreviousAccessToken: true,
};

export const ACCESS_TOKEN_LENGTH = 30;
export const REFRESH_TOKEN_LENGTH = 50;
export const AUTHORIZATION_CODE_LENGTH = 30;
