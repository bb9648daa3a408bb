import { Hono, type Context } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as z from 'zod/mini';
import { requireSession } from '../auth/session-auth';
import { getConfig } from '../config';
import type { AppEnv } from '../env';
import { BrokerError, invalidRequest, unauthorized } from '../errors';
import { limitLoginRate } from '../http/login-rate-limiter';
import { checkOrigin } from '../http/origins';
import { validateInput } from '../http/validate-input';
import { loggedOutBody, sessionBody, sessionsRevokedBody } from '../openapi/bodies';
import { errorResponse, jsonResponse, noCredentials } from '../openapi/describe';
import { secretsEqual, sha256Hex } from '../crypto/encoding';
import { CODE_VERIFIER, verifierMatches } from '../http/pkce';
import { clearSessionCookie, readLoginBindingCookie } from '../session/session-cookie';
import { signSession } from '../session/session-token';
import { oneTimeStore, userVault } from '../vault/stubs';
import type { SessionCode } from '../vault/one-time-store';
import type { UserVault } from '../vault/user-vault';

const sessionCodeBody = z.object({
  session_code: z
    .string()
    .check(z.minLength(1), z.maxLength(100), z.regex(/^[A-Za-z0-9_-]+$/), z.describe('from the login redirect; single-use, valid 60 seconds')),
  code_verifier: z.optional(
    z
      .string()
      .check(
        z.regex(CODE_VERIFIER, 'must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~'),
        z.describe('the PKCE verifier, when /authorize got a code_challenge'),
      ),
  ),
});

/** What the two session-ending routes can answer besides success. */
const endSessionErrors = {
  401: errorResponse({ unauthorized: 'no, invalid, expired or already revoked session' }),
  403: errorResponse({ forbidden_origin: 'a cookie request without an allowed Origin' }),
};

const invalidGrant = (description: string) => new BrokerError(400, 'invalid_grant', description);

/**
 * Whether the caller is whoever started the login: it holds the PKCE verifier (cross-site), or it
 * is the browser whose login cookie the code was bound to (same-site).
 */
async function presentedBy(c: Context<AppEnv>, code: SessionCode, codeVerifier: string | undefined): Promise<boolean> {
  if (code.codeChallenge) return codeVerifier !== undefined && (await verifierMatches(codeVerifier, code.codeChallenge));
  const binding = readLoginBindingCookie(c);
  return Boolean(binding && code.browserBindingHash && (await secretsEqual(await sha256Hex(binding), code.browserBindingHash)));
}

export const sessionRoutes = new Hono<AppEnv>()
  /** Exchanges the one-time `session_code` from the login redirect for a bearer session token. */
  .post(
    '/session',
    describeRoute({
      tags: ['login'],
      security: noCredentials,
      summary: 'Exchange a session code for a bearer session token',
      description: 'For frontends on another site. A wrong or missing code_verifier spends the code.',
      responses: {
        200: jsonResponse('the session token', sessionBody),
        400: errorResponse({
          invalid_request: 'malformed body, or the code is unknown, expired or used',
          invalid_grant: 'code_verifier missing or wrong, or (without PKCE) another browser',
        }),
        403: errorResponse({ forbidden_origin: 'the request carries an Origin not allowed' }),
        415: errorResponse({ invalid_request: 'the body is not JSON' }),
      },
    }),
    limitLoginRate,
    async (c, next) => {
      checkOrigin(c, false);
      if (!(c.req.header('Content-Type') ?? '').toLowerCase().startsWith('application/json')) {
        throw new BrokerError(415, 'invalid_request', 'send JSON: {"session_code": "...", "code_verifier": "..."}');
      }
      await next();
    },
    validateInput('json', sessionCodeBody),
    async (c) => {
      const { session_code: code, code_verifier: codeVerifier } = c.req.valid('json');
      // Taken before checking who presents it: a wrong verifier spends the code, so it cannot be guessed at.
      const taken = await (await oneTimeStore(c.env, `session:${code}`)).take();
      if (!taken.ok || taken.value.kind !== 'session_code') {
        throw invalidRequest('session_code is unknown, expired or already used');
      }
      if (!(await presentedBy(c, taken.value, codeVerifier))) {
        throw invalidGrant(
          taken.value.codeChallenge
            ? 'code_verifier is missing or does not match the code_challenge sent to /authorize'
            : 'this session code belongs to the browser that logged in',
        );
      }
      const { userId, sessionVersion } = taken.value;
      const session = await signSession(getConfig(c.env).sessionSecret, userId, sessionVersion);
      c.header('Cache-Control', 'no-store');
      return c.json({
        session_token: session.token,
        token_type: 'bearer',
        expires_in: Math.floor((session.claims.expiresAt - Date.now()) / 1000),
        user_id: userId,
      });
    },
  )

  /** Logs out: revokes the tokens at Twitch, forgets the grant, ends every session of the user. */
  .post(
    '/logout',
    describeRoute({
      tags: ['login'],
      summary: 'Log out: revoke the tokens at Twitch, forget the grant, end every session',
      responses: { 200: jsonResponse('logged out', loggedOutBody), ...endSessionErrors },
    }),
    requireSession,
    async (c) => {
      await endSessions(c, (vault, version) => vault.logout(version));
      return c.json({ logged_out: true });
    },
  )

  /** Ends every session of the signed-in user (all devices), keeping the grant. */
  .post(
    '/sessions/revoke-all',
    describeRoute({
      tags: ['login'],
      summary: 'End every session of the signed-in user, keeping the grant',
      responses: { 200: jsonResponse('every session has ended', sessionsRevokedBody), ...endSessionErrors },
    }),
    requireSession,
    async (c) => {
      await endSessions(c, (vault, version) => vault.revokeSessions(version));
      return c.json({ sessions_revoked: true });
    },
  );

/**
 * The shared half of logout and revoke-all: Origin check for cookie sessions, the vault action
 * (which refuses an already revoked session), and clearing the cookie.
 */
async function endSessions(c: Context<AppEnv>, action: (vault: DurableObjectStub<UserVault>, sessionVersion: number) => Promise<string>): Promise<void> {
  checkOrigin(c, c.get('sessionTransport') === 'cookie');
  const session = c.get('session')!;
  const outcome = await action(userVault(c.env, session.userId), session.sessionVersion);
  clearSessionCookie(c);
  if (outcome === 'session_revoked') throw unauthorized('the session has been revoked');
}
