import { Hono } from 'hono';
import * as z from 'zod/mini';
import { requireApiKey } from '../auth/api-key';
import { requireSession } from '../auth/session-auth';
import type { AppEnv } from '../env';
import { unauthorized } from '../errors';
import { brokerOrigin } from '../http/origins';
import { userIdParam } from '../http/params';
import { parseScopes } from '../http/scopes';
import { validateInput } from '../http/validate-input';
import { appTokenAnswer, unknownUser, userTokenAnswer } from '../tokens/token-answers';
import { userVault } from '../vault/stubs';

/** `force_refresh=true`: the caller's Helix call was refused (401) with the token it was given. */
const forceRefresh = z.optional(z.enum(['true', 'false']));
const appTokenQuery = z.object({ force_refresh: forceRefresh });
/** `scope=a+b`: the scopes the caller needs; a grant lacking any is refused with `insufficient_scope`. */
const userTokenQuery = z.object({
  force_refresh: forceRefresh,
  scope: z.optional(z.string().check(z.refine((value) => parseScopes(value) !== null, 'malformed scope list'))),
});

const userTokenRequest = (query: z.infer<typeof userTokenQuery>) => ({
  forceRefresh: query.force_refresh === 'true',
  scopes: query.scope === undefined ? [] : parseScopes(query.scope)!,
});

export const tokenRoutes = new Hono<AppEnv>()
  // '/token/*' also matches '/token' itself: every token answer, error or not, is no-store.
  .use('/token/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  })

  /** The signed-in user's access token, refreshed when needed. */
  .get('/token', requireSession, validateInput('query', userTokenQuery), async (c) => {
    const session = c.get('session')!;
    const request = { ...userTokenRequest(c.req.valid('query')), sessionVersion: session.sessionVersion };
    return c.json(await userTokenAnswer(c.env, brokerOrigin(c), session.userId, request, unauthorized('no grant is stored for this session')));
  })

  /** The app access token (client credentials), for server-side callers. */
  .get('/token/app', requireApiKey('app'), validateInput('query', appTokenQuery), async (c) => {
    return c.json(await appTokenAnswer(c.env, { forceRefresh: c.req.valid('query').force_refresh === 'true' }));
  })

  /** Any stored user's access token, for server-side callers (bots, EventSub handlers). */
  .get('/token/users/:userId', requireApiKey('users'), validateInput('param', userIdParam), validateInput('query', userTokenQuery), async (c) => {
    const { userId } = c.req.valid('param');
    return c.json(await userTokenAnswer(c.env, brokerOrigin(c), userId, userTokenRequest(c.req.valid('query')), unknownUser()));
  })

  /**
   * Drops a user (the app's "disconnect" button, a deletion request): tokens revoked at Twitch, grant
   * forgotten, sessions ended, the record kept for the audit trail.
   */
  .delete('/token/users/:userId', requireApiKey('users'), validateInput('param', userIdParam), async (c) => {
    const { userId } = c.req.valid('param');
    if ((await userVault(c.env, userId).drop()) === 'not_found') throw unknownUser();
    return c.json({ deleted: true });
  });
