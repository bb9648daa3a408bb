import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as z from 'zod/mini';
import { requireApiKey } from '../auth/api-key';
import { getConfig } from '../config';
import { randomToken } from '../crypto/encoding';
import type { AppEnv } from '../env';
import { BrokerError, temporarilyUnavailable } from '../errors';
import { authorizeUrlFor, brokerOrigin } from '../http/origins';
import { parseScopes } from '../http/scopes';
import { validateInput } from '../http/validate-input';
import { startDeviceAuthorization } from '../twitch/identity';
import { describeFailure } from '../twitch/twitch-error';
import { logEvent } from '../log';
import { deviceAuthorizedBody, deviceStartBody } from '../openapi/bodies';
import { errorResponse, jsonResponse, retryAfter } from '../openapi/describe';
import { deviceFlow } from '../vault/stubs';

const startBody = z.object({
  scope: z.optional(z.string().check(z.refine((value) => parseScopes(value) !== null, 'malformed scope list'))),
});
const pollBody = z.object({ poll_token: z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/, 'must be the poll_token POST /device answered')) });

const POLL_ERRORS = {
  authorization_pending: 'the user has not approved yet: poll again after `interval` seconds',
  slow_down: 'polling too fast: wait 5 seconds longer between polls',
  expired_token: 'the code expired or is unknown: start again with POST /device',
  access_denied: 'the user refused: start again with POST /device',
} as const;

export const deviceRoutes = new Hono<AppEnv>()
  /**
   * Starts a login for a headless bot (Twitch's Device Code Grant Flow). The device code stays in
   * the broker; the caller gets the code to show the user and a poll token.
   */
  .post(
    '/device',
    describeRoute({
      tags: ['login'],
      summary: 'Start a device-code login for a headless bot',
      responses: {
        200: jsonResponse('the code to show the user, and the poll token', deviceStartBody),
        400: errorResponse({ invalid_request: 'malformed body', invalid_scope: 'a scope ALLOWED_SCOPES does not permit' }),
        401: errorResponse({ unauthorized: 'missing or unknown API key' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `users` scope' }),
        503: errorResponse({ temporarily_unavailable: 'Twitch did not answer' }, retryAfter),
      },
    }),
    requireApiKey('users'),
    validateInput('json', startBody),
    async (c) => {
      const config = getConfig(c.env);
      const scopes = c.req.valid('json').scope !== undefined ? parseScopes(c.req.valid('json').scope!)! : [...config.defaultScopes];
      const allowed = config.allowedScopes;
      const refused = allowed ? scopes.filter((scope) => !allowed.has(scope)) : [];
      if (refused.length > 0) throw new BrokerError(400, 'invalid_scope', `this broker does not ask for ${refused.join(' ')} (see ALLOWED_SCOPES)`);
      let authorization;
      try {
        authorization = await startDeviceAuthorization(config, scopes);
      } catch (error) {
        logEvent('device.start_failed', { reason: describeFailure(error) });
        throw temporarilyUnavailable(5);
      }
      const pollToken = randomToken(32);
      await (await deviceFlow(c.env, pollToken)).start(authorization, scopes);
      c.header('Cache-Control', 'no-store');
      return c.json({
        user_code: authorization.userCode,
        verification_uri: authorization.verificationUri,
        expires_in: Math.floor((authorization.expiresAt - Date.now()) / 1000),
        interval: authorization.intervalSeconds,
        poll_token: pollToken,
      });
    },
  )

  /** Whether the user approved; the broker asks Twitch at most once per interval, however often it is polled. */
  .post(
    '/device/poll',
    describeRoute({
      tags: ['login'],
      summary: 'Whether the user approved the device-code login',
      responses: {
        200: jsonResponse('approved: the grant is stored, or with `grant_kept` a broader stored grant was kept', deviceAuthorizedBody),
        400: errorResponse({ ...POLL_ERRORS, invalid_request: 'malformed body' }),
        401: errorResponse({ unauthorized: 'missing or unknown API key' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `users` scope' }),
        503: errorResponse({ temporarily_unavailable: 'Twitch did not answer' }, retryAfter),
      },
    }),
    requireApiKey('users'),
    validateInput('json', pollBody),
    async (c) => {
      const result = await (await deviceFlow(c.env, c.req.valid('json').poll_token)).poll();
      c.header('Cache-Control', 'no-store');
      switch (result.status) {
        case 'authorized': {
          const approved = { user_id: result.userId, login: result.login, scopes: result.scopes };
          if (result.grantStored) return c.json(approved);
          // A broader live grant was kept: say what it holds, and where a login asking for both would replace it.
          return c.json({
            ...approved,
            grant_kept: true as const,
            stored_scopes: result.storedScopes,
            // `openid` is not the caller's to ask for: every browser login adds it.
            authorize_url: authorizeUrlFor(
              brokerOrigin(c),
              [...result.storedScopes, ...result.scopes].filter((scope) => scope !== 'openid'),
            ),
          });
        }
        case 'temporarily_unavailable':
          throw temporarilyUnavailable(result.retryAfterSeconds);
        default:
          return c.json({ error: result.status, error_description: POLL_ERRORS[result.status] }, 400);
      }
    },
  );
