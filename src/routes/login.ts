import { Hono, type Context } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as z from 'zod/mini';
import { getConfig, type Config } from '../config';
import { randomToken, sha256Hex } from '../crypto/encoding';
import type { AppEnv } from '../env';
import { BrokerError, invalidRequest } from '../errors';
import { resolveReturnTo, brokerOrigin } from '../http/origins';
import { limitLoginRate } from '../http/login-rate-limiter';
import { CODE_CHALLENGE } from '../http/pkce';
import { parseScopes } from '../http/scopes';
import { validateInput } from '../http/validate-input';
import { logEvent } from '../log';
import { errorResponse, noCredentials, redirectResponse } from '../openapi/describe';
import { LOGIN_FLOW_TTL_SECONDS, readLoginBindingCookie, readSessionCookie, setLoginBindingCookie, setSessionCookie } from '../session/session-cookie';
import { signSession, verifySession } from '../session/session-token';
import { authorizeUrl, exchangeCode, revokeToken, validateToken, type UserTokenGrant } from '../twitch/identity';
import { verifyIdToken } from '../twitch/oidc';
import { describeFailure, TwitchError } from '../twitch/twitch-error';
import { REQUEST_BUDGET } from '../twitch/twitch-fetch';
import type { LoginState, SessionCode } from '../vault/one-time-store';
import { oneTimeStore, userVault } from '../vault/stubs';
import { storeIssuedGrant } from '../vault/store-grant';

/** A session code lives this long: enough for a frontend to exchange it, too short to be worth stealing. */
export const SESSION_CODE_TTL_MS = 60_000;

const scopeList = z.string().check(z.refine((value) => parseScopes(value) !== null, 'malformed scope list'));
const token = (max: number) => z.string().check(z.minLength(1), z.maxLength(max), z.regex(/^[A-Za-z0-9_-]+$/));

const authorizeQuery = z.object({
  scope: z.optional(scopeList.check(z.describe('space-separated Twitch scopes; defaults to DEFAULT_SCOPES, limited by ALLOWED_SCOPES'))),
  return_to: z.optional(
    z.string().check(z.maxLength(2048), z.describe("where the browser goes after the login: the broker's origin or one in ALLOWED_ORIGINS; defaults to /")),
  ),
  force_verify: z.optional(z.enum(['true', 'false']).check(z.describe('true: Twitch shows its consent page even to a user who already authorized the app'))),
  code_challenge: z.optional(
    z
      .string()
      .check(
        z.regex(CODE_CHALLENGE, 'must be base64url(SHA-256(code_verifier)): 43 characters'),
        z.describe('PKCE (RFC 7636): binds the session code to the frontend holding the verifier'),
      ),
  ),
  code_challenge_method: z.optional(z.string().check(z.maxLength(20), z.describe('S256, the only method supported; required with code_challenge'))),
});

const callbackQuery = z.object({
  state: z.optional(z.string().check(z.maxLength(200))),
  code: z.optional(token(200)),
  scope: z.optional(z.string().check(z.maxLength(2000))),
  error: z.optional(z.string().check(z.maxLength(100))),
  error_description: z.optional(z.string().check(z.maxLength(500))),
});

/** Appends query parameters to an allowed return_to URL. */
function withParams(returnTo: string, params: Record<string, string>): string {
  const url = new URL(returnTo);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.href;
}

const invalidState = (description: string) => new BrokerError(400, 'invalid_state', description);

/** Checks the PKCE parameters: S256 only, since `plain` would put the verifier itself in a URL. */
function codeChallengeOf(query: { code_challenge?: string; code_challenge_method?: string }): string | null {
  if (query.code_challenge === undefined) {
    if (query.code_challenge_method !== undefined) throw invalidRequest('code_challenge_method needs a code_challenge');
    return null;
  }
  if (query.code_challenge_method !== 'S256') throw invalidRequest('code_challenge_method must be S256 (plain is not supported)');
  return query.code_challenge;
}

/**
 * The scopes to ask Twitch for: the requested ones (each allowed by ALLOWED_SCOPES, when set), the
 * scopes this browser's signed-in user already granted (so a re-login never narrows a grant), and
 * always `openid`, whose nonce-bound id_token is what stops authorization-code injection.
 */
async function scopesToRequest(c: Context<AppEnv>, requested: readonly string[], config: Config): Promise<string[]> {
  const allowed = config.allowedScopes;
  const refused = allowed ? requested.filter((scope) => scope !== 'openid' && !allowed.has(scope)) : [];
  if (refused.length > 0) {
    throw new BrokerError(400, 'invalid_scope', `this broker does not ask for ${refused.join(' ')} (see ALLOWED_SCOPES)`);
  }
  const stored = (await storedScopesOfThisBrowser(c, config)).filter((scope) => !allowed || allowed.has(scope));
  return [...new Set([...requested, ...stored, 'openid'])];
}

/** Scopes of a grant that ALLOWED_SCOPES does not permit (a user can edit the scope on Twitch's page). */
const disallowedScopes = (config: Config, scopes: readonly string[]): string[] => {
  const allowed = config.allowedScopes;
  return allowed ? scopes.filter((scope) => scope !== 'openid' && !allowed.has(scope)) : [];
};

/** The stored scopes of the user whose session cookie this browser carries, if any. */
async function storedScopesOfThisBrowser(c: Context<AppEnv>, config: Config): Promise<string[]> {
  const cookie = readSessionCookie(c);
  const session = cookie ? await verifySession(config.sessionSecret, cookie) : null;
  if (!session) return [];
  return (await userVault(c.env, session.userId).storedScopes(session.sessionVersion)) ?? [];
}

/** Revokes a pair the broker will not keep (a refused login), best effort, after the response. */
function discardGrant(c: Context<AppEnv>, config: Config, grant: UserTokenGrant): void {
  c.executionCtx.waitUntil(
    Promise.allSettled([revokeToken(config, grant.accessToken), revokeToken(config, grant.refreshToken)]).then((results) => {
      logEvent('login.grant_discarded', { revocationsFailed: results.filter((result) => result.status === 'rejected').length });
    }),
  );
}

export const loginRoutes = new Hono<AppEnv>()
  /** Starts a login: remembers the flow under a fresh state and sends the browser to Twitch. */
  .get(
    '/authorize',
    describeRoute({
      tags: ['login'],
      security: noCredentials,
      summary: 'Start a login: redirects the browser to Twitch',
      description:
        'Sets the login cookie (`__Host-ttb_login`, `ttb_login` on plain http) that binds the flow to this browser. The broker always adds `openid`, and for a browser with a session the scopes its stored grant holds.',
      responses: {
        302: redirectResponse("to Twitch's consent page"),
        400: errorResponse({
          invalid_request: 'malformed input, a return_to on an origin not allowed, or PKCE other than S256',
          invalid_scope: 'a scope ALLOWED_SCOPES does not permit',
        }),
      },
    }),
    limitLoginRate,
    validateInput('query', authorizeQuery),
    async (c) => {
      const query = c.req.valid('query');
      const config = getConfig(c.env);
      const returnTo = resolveReturnTo(query.return_to, brokerOrigin(c), config.allowedOrigins);
      if (!returnTo) throw invalidRequest('return_to must be a URL on an origin listed in ALLOWED_ORIGINS');
      const codeChallenge = codeChallengeOf(query);
      const requested = query.scope !== undefined ? parseScopes(query.scope)! : [...config.defaultScopes];
      const scopes = await scopesToRequest(c, requested, config);

      // One binding secret per browser (reused across tabs), so the state only works where it started.
      const binding = readLoginBindingCookie(c) ?? randomToken(32);
      setLoginBindingCookie(c, binding);
      const state = randomToken(32);
      const redirectUri = `${brokerOrigin(c)}/callback`;
      // Twitch puts this nonce into the id_token: a code from another flow carries another nonce.
      const nonce = randomToken(16);
      const flow: LoginState = { kind: 'login_state', returnTo, scopes, redirectUri, nonce, codeChallenge };
      await (await oneTimeStore(c.env, `state:${state}`)).put(flow, LOGIN_FLOW_TTL_SECONDS * 1000, await sha256Hex(binding));

      c.header('Cache-Control', 'no-store');
      return c.redirect(authorizeUrl(config, { redirectUri, scopes, state, nonce, forceVerify: query.force_verify === 'true' }), 302);
    },
  )

  /** Twitch sends the browser back here: check the state, exchange the code, store the grant. */
  .get(
    '/callback',
    describeRoute({
      tags: ['login'],
      security: noCredentials,
      summary: 'Where Twitch sends the browser back',
      description:
        'Needs the login cookie set by /authorize. On success the grant is stored, the session cookie set, and the browser sent to `return_to?session_code=…` (none for a cross-site return_to whose login sent no code_challenge). Login failures go to `return_to?error=…&error_description=…`.',
      responses: {
        302: redirectResponse('to return_to, with `session_code` or with `error` and `error_description`'),
        400: errorResponse({
          invalid_state: 'state missing, unknown, expired, replayed or started in another browser',
          invalid_request: 'malformed input or no code',
        }),
      },
    }),
    limitLoginRate,
    validateInput('query', callbackQuery),
    async (c) => {
      const query = c.req.valid('query');
      const config = getConfig(c.env);
      c.header('Cache-Control', 'no-store');
      if (!query.state || !/^[A-Za-z0-9_-]{43}$/.test(query.state)) throw invalidState('state is missing or malformed');
      const binding = readLoginBindingCookie(c);
      if (!binding) throw invalidState('this browser did not start a login (no login cookie)');

      const bindingHash = await sha256Hex(binding);
      const taken = await (await oneTimeStore(c.env, `state:${query.state}`)).take(bindingHash);
      if (!taken.ok) {
        const reasons = {
          missing: 'state is unknown or was already used',
          expired: 'state has expired: start the login again',
          binding_mismatch: 'state was issued to another browser',
        } as const;
        throw invalidState(reasons[taken.reason]);
      }
      if (taken.value.kind !== 'login_state') throw invalidState('state is unknown or was already used');
      const flow = taken.value;

      if (query.error !== undefined) {
        // Twitch's redirect error (e.g. access_denied): hand it to the app, with no session.
        const error = /^[a-z_]{1,50}$/.test(query.error) ? query.error : 'login_failed';
        return c.redirect(withParams(flow.returnTo, { error, error_description: (query.error_description ?? '').slice(0, 200) }), 302);
      }
      if (!query.code) throw invalidRequest('code is missing');

      let grant: UserTokenGrant | undefined, info, identity;
      try {
        grant = await exchangeCode(config, query.code, flow.redirectUri);
        // The id_token must carry this flow's nonce: a code injected from another flow (a leaked
        // victim's code pasted into the attacker's login) carries the victim's nonce, or none.
        if (!grant.idToken) throw new TwitchError('rejected', 400, 'openid was requested but no id_token came back');
        identity = await verifyIdToken(config, grant.idToken, flow.nonce);
        info = await validateToken(config, grant.accessToken, REQUEST_BUDGET);
      } catch (error) {
        logEvent('login.failed', { reason: describeFailure(error) });
        if (grant) discardGrant(c, config, grant);
        const unavailable = !(error instanceof TwitchError) || error.kind === 'unavailable';
        return c.redirect(
          withParams(flow.returnTo, {
            error: unavailable ? 'temporarily_unavailable' : 'invalid_grant',
            error_description: unavailable ? 'Twitch did not answer; try logging in again' : 'Twitch refused the login code',
          }),
          302,
        );
      }
      // The id_token's subject must be the user the access token belongs to.
      if (!info?.userId || !info.login || identity.userId !== info.userId) {
        discardGrant(c, config, grant);
        return c.redirect(withParams(flow.returnTo, { error: 'invalid_grant', error_description: 'Twitch did not confirm the user' }), 302);
      }
      // The user can edit the scopes on Twitch's page: what was granted must still be allowed.
      const disallowed = disallowedScopes(config, grant.scopes);
      if (disallowed.length > 0) {
        discardGrant(c, config, grant);
        return c.redirect(withParams(flow.returnTo, { error: 'invalid_scope', error_description: `this broker does not accept ${disallowed.join(' ')}` }), 302);
      }

      const now = Date.now();
      const { sessionVersion, stored } = await storeIssuedGrant(c.env, { userId: info.userId, login: info.login, ...grant });

      const session = await signSession(config.sessionSecret, info.userId, sessionVersion, now);
      setSessionCookie(c, session.token);
      logEvent('login.completed', { userId: info.userId, grantStored: stored });

      // A session code travels in a URL, so it only works for whoever started this login: the
      // holder of the PKCE verifier, or (same-site, without PKCE) this browser's login cookie. A
      // cross-site frontend that sent no challenge gets none: anyone who read the URL could use it.
      const crossSite = new URL(flow.returnTo).origin !== brokerOrigin(c);
      if (crossSite && flow.codeChallenge === null) return c.redirect(flow.returnTo, 302);
      const sessionCode = randomToken(32);
      const code: SessionCode = {
        kind: 'session_code',
        userId: info.userId,
        sessionVersion,
        codeChallenge: flow.codeChallenge,
        browserBindingHash: flow.codeChallenge === null ? bindingHash : null,
      };
      await (await oneTimeStore(c.env, `session:${sessionCode}`)).put(code, SESSION_CODE_TTL_MS);
      return c.redirect(withParams(flow.returnTo, { session_code: sessionCode }), 302);
    },
  );
