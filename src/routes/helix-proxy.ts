import { Hono, type Context } from 'hono';
import { apiCallerFor } from '../auth/api-key';
import { bearerToken } from '../auth/session-auth';
import { getConfig, type Config } from '../config';
import type { AppEnv } from '../env';
import { BrokerError, unauthorized } from '../errors';
import { brokerOrigin, checkOrigin } from '../http/origins';
import { helixTarget, helixWriteAllowed, helixWriteForbidden } from '../helix/proxy-target';
import { logEvent } from '../log';
import { readSessionCookie } from '../session/session-cookie';
import { verifySession, type SessionClaims } from '../session/session-token';
import { appTokenAnswer, userTokenAnswer } from '../tokens/token-answers';

/** Headers of Helix's answer worth passing on: the rate-limit bucket (the body's type is decided below). */
const PASSED_ON = ['Ratelimit-Limit', 'Ratelimit-Remaining', 'Ratelimit-Reset'];
/**
 * The broker's origin must never serve upstream bytes as a page: a proxied answer cannot run script,
 * load anything or be sniffed into HTML, whatever Helix (or something in front of it) sends.
 */
const INERT_ANSWER_HEADERS = { 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; sandbox", 'X-Content-Type-Options': 'nosniff' };

/** JSON passes as JSON; anything else leaves as an opaque download. */
function passedContentType(upstream: string | null): string | null {
  if (upstream === null) return null;
  return /^application\/json\s*(;|$)/i.test(upstream) ? upstream : 'application/octet-stream';
}
const HELIX_TIMEOUT_MS = 10_000;

/** Who the proxied call acts for: the session's user, or the app (an API key of scope `app`). */
type Acting = { kind: 'user'; session: SessionClaims } | { kind: 'app' };

/** Reads the caller: a bearer session token, an API key of scope `app`, or the session cookie. */
async function actingFor(c: Context<AppEnv>, config: Config): Promise<Acting> {
  const header = c.req.header('Authorization');
  const bearer = bearerToken(header);
  if (header !== undefined && bearer === undefined) throw unauthorized('Authorization must be "Bearer <session token or API key>"');
  if (bearer) {
    const session = await verifySession(config.sessionSecret, bearer);
    if (session) return { kind: 'user', session };
    const caller = await apiCallerFor(config, bearer);
    if (!caller) throw unauthorized('neither a valid session nor a valid API key');
    if (!caller.scopes.has('app')) throw new BrokerError(403, 'insufficient_scope', 'the Helix proxy acts for the app only with an API key of scope app');
    return { kind: 'app' };
  }
  const cookie = readSessionCookie(c);
  const session = cookie ? await verifySession(config.sessionSecret, cookie) : null;
  if (!session) throw unauthorized('no session: log in through /authorize, or send an API key of scope app');
  // A cookie rides along on cross-site requests: writes need an allowed Origin.
  if (c.req.method !== 'GET') checkOrigin(c, true);
  return { kind: 'user', session };
}

/** The access token to call Helix with; `forceRefresh` after Helix refused the last one. */
async function tokenFor(c: Context<AppEnv>, acting: Acting, forceRefresh: boolean): Promise<string> {
  if (acting.kind === 'app') return (await appTokenAnswer(c.env, { forceRefresh })).access_token;
  const { session } = acting;
  const answer = await userTokenAnswer(
    c.env,
    brokerOrigin(c),
    session.userId,
    { sessionVersion: session.sessionVersion, forceRefresh },
    unauthorized('no grant is stored for this session'),
  );
  return answer.access_token;
}

export const helixProxyRoutes = new Hono<AppEnv>()
  /**
   * Helix for frontends that never hold a token: forwards to `{TWITCH_API_BASE_URL}/helix/*` with
   * the session user's token (or the app token for an API key of scope app), Client-Id added and the
   * caller's own Authorization never forwarded. On Helix's 401 the token is checked and refreshed
   * once and the call retried once.
   */
  .on(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], '/helix/*', async (c) => {
    const config = getConfig(c.env);
    // Checked on the raw path and on the URL actually sent, never on Hono's decoded c.req.path.
    const { url, path } = helixTarget(c.req.url, config.apiBaseUrl);
    const method = c.req.method;
    if (!helixWriteAllowed(config, method, path)) throw helixWriteForbidden(method, path);
    const acting = await actingFor(c, config);
    const body = method === 'GET' || method === 'DELETE' ? undefined : await c.req.arrayBuffer();
    const call = async (token: string) =>
      fetch(url, {
        method,
        // A redirect would carry the token's answer (or the request) somewhere we did not check.
        redirect: 'manual',
        headers: {
          Authorization: `Bearer ${token}`,
          'Client-Id': config.clientId,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': c.req.header('Content-Type') ?? 'application/json' }),
        },
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(HELIX_TIMEOUT_MS),
      });

    let answer: Response;
    try {
      answer = await call(await tokenFor(c, acting, false));
      if (answer.status === 401) {
        await answer.body?.cancel();
        logEvent('helix_proxy.retry_after_401', acting.kind === 'user' ? { userId: acting.session.userId } : { app: true });
        answer = await call(await tokenFor(c, acting, true));
      }
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      throw new BrokerError(502, 'bad_gateway', 'Helix did not answer', { 'Retry-After': '1' });
    }
    if (answer.status >= 300 && answer.status < 400) {
      await answer.body?.cancel();
      logEvent('helix_proxy.upstream_redirect', { status: answer.status });
      throw new BrokerError(502, 'upstream_redirect', 'Helix answered with a redirect, which the proxy does not follow');
    }
    const headers = new Headers(INERT_ANSWER_HEADERS);
    const contentType = passedContentType(answer.headers.get('Content-Type'));
    if (contentType !== null) headers.set('Content-Type', contentType);
    for (const name of PASSED_ON) {
      const value = answer.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    return new Response(answer.body, { status: answer.status, headers });
  });
