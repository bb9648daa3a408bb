import type { UserAccessToken } from '../vault/vault-types';

/** The body of GET /token and GET /token/users/:userId. */
export interface UserTokenBody {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  /** Unix seconds. */
  expires_at: number;
  /** Unix seconds: when Twitch issued this access token. */
  obtained_at: number;
  scopes: string[];
  user_id: string;
  login: string;
  client_id: string;
}

/** Whole seconds from now until `epochMs` (never negative). */
export const secondsUntil = (epochMs: number): number => Math.max(0, Math.floor((epochMs - Date.now()) / 1000));
/** Epoch milliseconds as Unix seconds. */
export const unixSeconds = (epochMs: number): number => Math.floor(epochMs / 1000);

/** A user token as every route, RPC call and live update hands it out. */
export function userTokenBody(token: UserAccessToken, clientId: string): UserTokenBody {
  return {
    access_token: token.accessToken,
    token_type: 'bearer',
    expires_in: secondsUntil(token.expiresAt),
    expires_at: unixSeconds(token.expiresAt),
    obtained_at: unixSeconds(token.obtainedAt),
    scopes: token.scopes,
    user_id: token.userId,
    login: token.login,
    client_id: clientId,
  };
}
