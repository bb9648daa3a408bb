import { Hono } from 'hono';
import { bearerTokenFrom, jsonResponse, paramValue, twitchError, type StandinEnv } from './http';
import type { StandinState } from './state';

/** GET /oauth2/validate and POST /oauth2/revoke. */
export function validateAndRevokeRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.get('/validate', (c) => {
    const token = bearerTokenFrom(c.req.header('Authorization'));
    if (token === 'missing') return twitchError(401, 'missing authorization token');
    const access = token === 'malformed' ? undefined : state.findLiveAccessToken(token.value);
    if (access === undefined) return twitchError(401, 'invalid access token');
    const user = state.userForAccessToken(access);
    return jsonResponse({
      client_id: access.clientId,
      login: user?.login ?? null,
      scopes: access.scopes,
      user_id: access.userId,
      // Seconds remaining, so it shrinks between calls as on Twitch.
      expires_in: Math.max(0, Math.floor((access.expiresAt - state.now()) / 1000)),
    });
  });

  routes.post('/revoke', (c) => {
    const params = c.get('oauthParams');
    const clientId = paramValue(params, 'client_id');
    if (clientId === undefined) return twitchError(400, 'missing client_id');
    const token = paramValue(params, 'token');
    if (token === undefined) return twitchError(400, 'missing token');
    if (state.findClient(clientId) === undefined) return twitchError(404, 'client does not exist');
    if (!state.revokeForClient(clientId, token)) return twitchError(400, 'Invalid token');
    return c.body(null, 200);
  });

  return routes;
}
