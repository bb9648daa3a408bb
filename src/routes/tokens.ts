import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as z from 'zod/mini';
import { apiCallerFor, requireApiKey, withScope } from '../auth/api-key';
import { bearerToken, requireSession } from '../auth/session-auth';
import { dropUser } from '../admin/users';
import type { AppEnv } from '../env';
import { getConfig } from '../config';
import { brokerOrigin } from '../http/origins';
import { userIdParam } from '../http/params';
import { parseScopes } from '../http/scopes';
import { validateInput } from '../http/validate-input';
import { appTokenBody, deletedBody, insufficientScopeBody, scopeRefusedBody, userTokenBody } from '../openapi/bodies';
import { apiKeySecurity, errorResponse, jsonResponse, retryAfter } from '../openapi/describe';
import { unauthorized, unknownUser, upgradeRequired } from '../errors';
import { appTokenAnswer, userTokenAnswer } from '../tokens/token-answers';
import { requestedProtocols } from '../vault/live-tokens';
import { userVault } from '../vault/stubs';

/** `force_refresh=true`: the caller's Helix call was refused (401) with the token it was given. */
const forceRefresh = z.optional(
  z
    .enum(['true', 'false'])
    .check(z.describe('true after Helix answered 401 with the token you were given: the broker checks it with Twitch and refreshes it only if it is dead')),
);
const appTokenQuery = z.object({ force_refresh: forceRefresh });
/** `scope=a+b`: the scopes the caller needs; a grant lacking any is refused with `insufficient_scope`. */
const userTokenQuery = z.object({
  force_refresh: forceRefresh,
  scope: z.optional(
    z.string().check(
      z.refine((value) => parseScopes(value) !== null, 'malformed scope list'),
      z.describe('space-separated scopes the caller needs; a grant lacking any is refused with 403 insufficient_scope'),
    ),
  ),
});

const userTokenRequest = (query: z.infer<typeof userTokenQuery>) => ({
  forceRefresh: query.force_refresh === 'true',
  scopes: query.scope === undefined ? [] : parseScopes(query.scope)!,
});

/** What the user-token routes can answer besides the token. */
const userTokenResponses = {
  200: jsonResponse('the access token, refreshed when needed', userTokenBody),
  401: errorResponse({ reauthorization_required: 'Twitch no longer accepts the grant; send the user through /authorize again' }),
  403: jsonResponse('`insufficient_scope`: the grant lacks a scope asked for with `scope=`', insufficientScopeBody),
  503: errorResponse({ temporarily_unavailable: 'Twitch is failing and no valid token is left' }, retryAfter),
};

export const tokenRoutes = new Hono<AppEnv>()
  // '/token/*' also matches '/token' itself: every token answer, error or not, is no-store.
  .use('/token/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  })

  /** The signed-in user's access token, refreshed when needed. */
  .get(
    '/token',
    describeRoute({
      tags: ['tokens'],
      summary: "The signed-in user's access token",
      responses: {
        ...userTokenResponses,
        401: errorResponse({
          unauthorized: 'no, invalid, expired or revoked session, or no grant stored for it',
          reauthorization_required: 'Twitch no longer accepts the grant, send the user through /authorize again',
        }),
      },
    }),
    requireSession,
    validateInput('query', userTokenQuery),
    async (c) => {
      const session = c.get('session')!;
      const request = { ...userTokenRequest(c.req.valid('query')), sessionVersion: session.sessionVersion };
      return c.json(await userTokenAnswer(c.env, brokerOrigin(c), session.userId, request, unauthorized('no grant is stored for this session')));
    },
  )

  /** The app access token (client credentials), for server-side callers. */
  .get(
    '/token/app',
    describeRoute({
      tags: ['tokens'],
      summary: 'The app access token (client credentials)',
      responses: {
        200: jsonResponse('the app access token', appTokenBody),
        401: errorResponse({ unauthorized: 'missing or unknown API key' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `app` scope' }),
        503: errorResponse({ temporarily_unavailable: 'Twitch is failing and no valid token is left' }, retryAfter),
      },
    }),
    requireApiKey('app'),
    validateInput('query', appTokenQuery),
    async (c) => {
      return c.json(await appTokenAnswer(c.env, { forceRefresh: c.req.valid('query').force_refresh === 'true' }));
    },
  )

  /** Any stored user's access token, for server-side callers (bots, EventSub handlers). */
  .get(
    '/token/users/:userId',
    describeRoute({
      tags: ['tokens'],
      summary: "Any stored user's access token",
      responses: {
        ...userTokenResponses,
        401: errorResponse({ unauthorized: 'missing or unknown API key', reauthorization_required: 'Twitch no longer accepts the grant' }),
        403: jsonResponse(
          '`insufficient_scope`: the API key lacks the `users` scope, or the grant lacks a scope asked for with `scope=` (then with `missing_scopes` and `authorize_url`)',
          scopeRefusedBody,
        ),
        404: errorResponse({ not_found: 'this user never logged in, or logged out' }),
      },
    }),
    requireApiKey('users'),
    validateInput('param', userIdParam),
    validateInput('query', userTokenQuery),
    async (c) => {
      const { userId } = c.req.valid('param');
      return c.json(await userTokenAnswer(c.env, brokerOrigin(c), userId, userTokenRequest(c.req.valid('query')), unknownUser()));
    },
  )

  /**
   * Drops a user (the app's "disconnect" button, a deletion request): tokens revoked at Twitch, grant
   * forgotten, sessions ended, the record kept for the audit trail.
   */
  .delete(
    '/token/users/:userId',
    describeRoute({
      tags: ['tokens'],
      summary: 'Drop a user: revoke the tokens at Twitch, forget the grant, end the sessions',
      responses: {
        200: jsonResponse('dropped; the audit trail is kept', deletedBody),
        401: errorResponse({ unauthorized: 'missing or unknown API key' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `users` scope' }),
        404: errorResponse({ not_found: 'this user never logged in, or is already dropped' }),
      },
    }),
    requireApiKey('users'),
    validateInput('param', userIdParam),
    async (c) => {
      const { userId } = c.req.valid('param');
      if ((await dropUser(c.env, userId)) === 'not_found') throw unknownUser();
      return c.json({ deleted: true });
    },
  )

  /**
   * A live connection for one user's tokens (a WebSocket, hibernatable): the current token at once,
   * then `{"type":"token",…}` on every rotation and `{"type":"revoked"}` when the grant ends. The
   * API key comes as `Authorization: Bearer`, or, where a WebSocket cannot set headers, as the
   * subprotocol `bearer.<key>` beside `twitch-token-broker`.
   */
  .get(
    '/token/users/:userId/live',
    describeRoute({
      tags: ['tokens'],
      summary: "A WebSocket with a user's token: the current one, every rotation, the revocation",
      description:
        'Open as a WebSocket. Messages: `{"type":"token", …the UserToken fields}` at once and on every rotation, `{"type":"revoked"}` when the grant ends. Where a WebSocket cannot set headers, the API key may come as the subprotocol `bearer.<key>` beside `twitch-token-broker`. A user holds at most LIVE_TOKEN_MAX_SOCKETS connections (default 32): one more closes the oldest with close code 4008.',
      // Checked in the handler (the key may come as a subprotocol), so declared here.
      security: apiKeySecurity('users'),
      responses: {
        101: { description: 'switching to the WebSocket' },
        401: errorResponse({ unauthorized: 'missing or unknown API key', reauthorization_required: 'Twitch no longer accepts the grant' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `users` scope' }),
        404: errorResponse({ not_found: 'this user never logged in, or logged out' }),
        426: errorResponse({ upgrade_required: 'not opened as a WebSocket' }),
        503: errorResponse({ temporarily_unavailable: 'Twitch is failing and no valid token is left' }, retryAfter),
      },
    }),
    validateInput('param', userIdParam),
    async (c) => {
      if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') {
        throw upgradeRequired();
      }
      const config = getConfig(c.env);
      // Read here, so a malformed LIVE_TOKEN_MAX_SOCKETS answers 500 server_misconfigured naming it (the vault reads it too).
      void config.liveTokenMaxSockets;
      const fromProtocol = requestedProtocols(c.req.raw).find((name) => name.startsWith('bearer.'));
      withScope(await apiCallerFor(config, bearerToken(c.req.header('Authorization')) ?? fromProtocol?.slice('bearer.'.length)), 'users');
      const { userId } = c.req.valid('param');
      // The usual checks and a refresh if due, so the first message carries a usable token.
      await userTokenAnswer(c.env, brokerOrigin(c), userId, {}, unknownUser());
      return userVault(c.env, userId).fetch(c.req.raw);
    },
  );
