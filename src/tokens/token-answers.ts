import { getConfig } from '../config';
import type { Env } from '../env';
import { BrokerError, temporarilyUnavailable, tokenFailureError } from '../errors';
import { authorizeUrlFor } from '../http/origins';
import { getAppToken } from '../vault/app-token-cache';
import { userVault } from '../vault/stubs';
import type { UserAccessToken, UserTokenResult } from '../vault/vault-types';
import { secondsUntil, unixSeconds, userTokenBody, type UserTokenBody } from './token-body';

export type { UserTokenBody } from './token-body';

/**
 * What the token routes and the `TokenBroker` RPC entrypoint answer: one implementation, so HTTP
 * and RPC callers get the same bodies and the same errors.
 */

/** The body of GET /token/app. */
export interface AppTokenBody {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  client_id: string;
}

/** How a caller asks for a user token. */
export interface UserTokenRequest {
  /** The scopes the caller needs: a grant lacking any is refused with `insufficient_scope`. */
  scopes?: readonly string[];
  /** The caller's Helix call got 401 with the token it was given. */
  forceRefresh?: boolean;
  /** For session callers: the session's version, so revoked sessions are refused. */
  sessionVersion?: number;
}

/** The token, or the error that says why there is none. */
function tokenOrThrow(result: UserTokenResult, whenMissing: BrokerError): UserAccessToken {
  if (result.ok) return result.token;
  throw tokenFailureError(result, whenMissing);
}

/**
 * A user's token body. A grant lacking a requested scope is a 403 naming the missing scopes and
 * where to send the user: `brokerOrigin`'s /authorize asking for the stored and the missing scopes
 * (a path on the broker when its public origin is unknown).
 */
export async function userTokenAnswer(
  env: Env,
  brokerOrigin: string | null,
  userId: string,
  request: UserTokenRequest,
  whenMissing: BrokerError,
): Promise<UserTokenBody> {
  const result = await userVault(env, userId).getAccessToken({
    ...(request.sessionVersion === undefined ? {} : { sessionVersion: request.sessionVersion }),
    forceRefresh: request.forceRefresh === true,
  });
  const token = tokenOrThrow(result, whenMissing);
  const missing = (request.scopes ?? []).filter((scope) => !token.scopes.includes(scope));
  if (missing.length > 0) {
    // Without a known public origin (RPC with PUBLIC_URL unset) the URL is relative to the broker.
    const authorizeUrl = authorizeUrlFor(brokerOrigin, [...token.scopes.filter((scope) => scope !== 'openid'), ...missing]);
    throw new BrokerError(
      403,
      'insufficient_scope',
      `the user's grant lacks ${missing.join(' ')}; send the user to authorize_url`,
      {},
      {
        missing_scopes: missing,
        authorize_url: authorizeUrl,
      },
    );
  }
  return userTokenBody(token, getConfig(env).clientId);
}

/** The app token body. */
export async function appTokenAnswer(env: Env, options: { forceRefresh?: boolean } = {}): Promise<AppTokenBody> {
  const result = await getAppToken(env, { forceRefresh: options.forceRefresh === true });
  if (!result.ok) throw temporarilyUnavailable(result.retryAfterSeconds);
  return {
    access_token: result.token.accessToken,
    token_type: 'bearer',
    expires_in: secondsUntil(result.token.expiresAt),
    expires_at: unixSeconds(result.token.expiresAt),
    client_id: getConfig(env).clientId,
  };
}
