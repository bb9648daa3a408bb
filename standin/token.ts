import { Hono } from 'hono';
import { paramValue, jsonResponse, twitchError, type StandinEnv } from './http';
import type { AccessTokenRecord, RegisteredClient, UserTokenIssue } from './model';
import { mintIdToken, type OidcSigner } from './oidc';
import type { StandinState } from './state';

const SUPPORTED_GRANT_TYPES = new Set(['authorization_code', 'client_credentials', 'refresh_token']);

type ClientCheck = { client: RegisteredClient } | { refusal: Response };

/** Checks client_id then client_secret, with Twitch's 400 "invalid client" and 403 "invalid client secret". */
function authenticateClient(state: StandinState, params: URLSearchParams): ClientCheck {
  const clientId = paramValue(params, 'client_id');
  if (clientId === undefined) return { refusal: twitchError(400, 'missing client_id') };
  const client = state.findClient(clientId);
  if (client === undefined) return { refusal: twitchError(400, 'invalid client') };
  const clientSecret = paramValue(params, 'client_secret');
  if (clientSecret === undefined) return { refusal: twitchError(400, 'missing client_secret') };
  if (clientSecret !== client.clientSecret) return { refusal: twitchError(403, 'invalid client secret') };
  return { client };
}

/** The lifetime a fresh token response announces, fixed at issue time so clock ticks can't shave a second off. */
export function lifetimeSeconds(accessToken: AccessTokenRecord): number {
  return Math.round((accessToken.expiresAt - accessToken.issuedAt) / 1000);
}

/** The body of a user-token response; `scope` is an array here (validate calls it `scopes`). */
export function userTokenBody(issue: UserTokenIssue): Record<string, unknown> {
  return {
    access_token: issue.accessToken.token,
    expires_in: lifetimeSeconds(issue.accessToken),
    refresh_token: issue.refreshToken,
    scope: issue.accessToken.scopes,
    token_type: 'bearer',
  };
}

/** POST /oauth2/token for the authorization_code, client_credentials and refresh_token grants. */
export function tokenRoutes(state: StandinState, signer: OidcSigner): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.post('/token', async (c) => {
    const params = c.get('oauthParams');
    const grantType = paramValue(params, 'grant_type');
    if (grantType === undefined) return twitchError(400, 'missing grant_type');
    if (!SUPPORTED_GRANT_TYPES.has(grantType)) return twitchError(400, 'unsupported grant type');
    const clientCheck = authenticateClient(state, params);
    if ('refusal' in clientCheck) return clientCheck.refusal;
    const { client } = clientCheck;

    if (grantType === 'client_credentials') {
      const appToken = state.issueAppAccessToken(client.clientId);
      // No refresh_token and no scope: app tokens are re-minted, never refreshed.
      return jsonResponse({
        access_token: appToken.token,
        expires_in: lifetimeSeconds(appToken),
        token_type: 'bearer',
      });
    }

    if (grantType === 'refresh_token') {
      const refreshToken = paramValue(params, 'refresh_token');
      if (refreshToken === undefined) return twitchError(400, 'missing refresh_token');
      const issue = state.refreshUserGrant(client.clientId, refreshToken);
      if (issue === undefined) return twitchError(400, 'Invalid refresh token');
      return jsonResponse(userTokenBody(issue));
    }

    const codeValue = paramValue(params, 'code');
    if (codeValue === undefined) return twitchError(400, 'missing code');
    const redirectUri = paramValue(params, 'redirect_uri');
    if (redirectUri === undefined) return twitchError(400, 'missing redirect_uri');
    const code = state.redeemAuthorizationCode(codeValue, client.clientId);
    if (code === undefined) return twitchError(400, 'Invalid authorization code');
    if (code.redirectUri !== redirectUri) return twitchError(400, 'Parameter redirect_uri does not match registered URI');
    const user = state.findUser(code.userId);
    if (user === undefined) return twitchError(400, 'Invalid authorization code');

    const issue = state.issueUserGrant(client.clientId, user.id, code.scopes);
    const body = userTokenBody(issue);
    if (code.scopes.includes('openid')) body.id_token = await mintIdToken(signer, state.issuer, code, user, state.now());
    return jsonResponse(body);
  });

  return routes;
}
