import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { bearerTokenFrom, jsonResponse, type StandinEnv } from './http';
import type { AccessTokenRecord, StandinUser } from './model';
import type { StandinState } from './state';

/**
 * The slice of Helix (api.twitch.tv/helix) that twurple-based apps need in the tests: GET /users.
 * Served under `/helix/…` and under `/mock/…`, the paths twurple calls when `TWURPLE_MOCK_API_PORT`
 * is set (http://localhost:PORT/mock/users). Like Helix, every call needs `Authorization: Bearer`
 * with a live token and a `Client-Id` that matches the token's client. Not in the call log, which
 * counts identity (/oauth2) traffic only.
 */

/** Helix's error shape: `{"error":"<HTTP reason>","status":N,"message":"…"}`. */
function helixError(status: 400 | 401, message: string): Response {
  return jsonResponse({ error: status === 401 ? 'Unauthorized' : 'Bad Request', status, message }, status);
}

/** Users per request, ids and logins together, as on Helix. */
const MAX_USERS_PER_CALL = 100;

/** The token a Helix call presents, or Helix's 401. */
function authorize(state: StandinState, c: Context<StandinEnv>): AccessTokenRecord | Response {
  const presented = bearerTokenFrom(c.req.header('Authorization'));
  const clientId = c.req.header('Client-Id');
  if (presented === 'missing' || !clientId) return helixError(401, 'Missing Client ID or OAuth token');
  const access = presented === 'malformed' ? undefined : state.findLiveAccessToken(presented.value);
  if (access === undefined) return helixError(401, 'Invalid OAuth token');
  if (access.clientId !== clientId) return helixError(401, 'Client ID and OAuth token do not match');
  return access;
}

/** A user as Helix shows one; `email` only to a token of that user holding `user:read:email`. */
function helixUser(user: StandinUser, access: AccessTokenRecord): Record<string, unknown> {
  const showsEmail = access.userId === user.id && access.scopes.includes('user:read:email');
  return {
    id: user.id,
    login: user.login,
    display_name: user.displayName,
    type: '',
    broadcaster_type: '',
    description: '',
    profile_image_url: '',
    offline_image_url: '',
    view_count: 0,
    ...(showsEmail ? { email: user.email } : {}),
    created_at: '2020-01-01T00:00:00Z',
  };
}

/** The Helix routes, mounted at the root of the stand-in's app. */
export function helixRoutes(state: StandinState): Hono<StandinEnv> {
  const helix = new Hono<StandinEnv>();
  // Helix answers browsers from any origin (a frontend calls it with the user's token).
  helix.use('/users', cors({ origin: '*', allowHeaders: ['Authorization', 'Client-Id', 'Content-Type'] }));

  /** GET /users?id=…&login=…: the named users (unknown ones left out), or the token's own user. */
  helix.get('/users', (c) => {
    const access = authorize(state, c);
    if (access instanceof Response) return access;
    const ids = c.req.queries('id') ?? [];
    const logins = c.req.queries('login') ?? [];
    if (ids.length + logins.length > MAX_USERS_PER_CALL) {
      return helixError(400, `The sum of the number of the login and id query parameters must not exceed ${MAX_USERS_PER_CALL}`);
    }
    let users: StandinUser[];
    if (ids.length + logins.length === 0) {
      const own = state.userForAccessToken(access);
      if (own === undefined) return helixError(400, 'Must provide an ID, Login or OAuth Token.');
      users = [own];
    } else {
      const found = [...ids, ...logins].map((idOrLogin) => state.findUser(idOrLogin)).filter((user) => user !== undefined);
      users = [...new Map(found.map((user) => [user.id, user])).values()];
    }
    return jsonResponse({ data: users.map((user) => helixUser(user, access)) });
  });

  const routes = new Hono<StandinEnv>();
  routes.route('/helix', helix);
  routes.route('/mock', helix);
  return routes;
}
