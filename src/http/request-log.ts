import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from '../env';
import { logEvent } from '../log';

/** How a request ended, in words a dashboard can group by. */
export type RequestOutcome = 'ok' | 'denied' | 'rejected' | 'rate_limited' | 'unavailable' | 'failed';

/** Maps a status to its outcome: 401/403 denied, 429 rate limited, other 4xx rejected, 503 unavailable, other 5xx failed. */
export function outcomeOf(status: number): RequestOutcome {
  if (status < 400) return 'ok';
  if (status === 401 || status === 403) return 'denied';
  if (status === 429) return 'rate_limited';
  if (status < 500) return 'rejected';
  return status === 503 ? 'unavailable' : 'failed';
}

const TWITCH_USER_ID = /^\d{1,20}$/;

/**
 * One JSON line per request: `{"event":"request","method","route","status","outcome","durationMs"}`,
 * plus `userId` on routes that name one. The route is the pattern (`/token/users/:userId`), never the
 * URL: query strings carry OAuth codes, state and session codes. Headers and bodies are never read.
 */
export const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  const startedAt = Date.now();
  await next();
  // The last matched endpoint (middleware is registered for ALL methods); none for unknown paths.
  const endpoint = matchedRoutes(c)
    .filter((route) => route.method !== 'ALL')
    .at(-1);
  const route = endpoint?.path ?? null;
  const fields: Record<string, string | number | null> = {
    method: c.req.method,
    route,
    status: c.res.status,
    outcome: outcomeOf(c.res.status),
    durationMs: Date.now() - startedAt,
  };
  const userIdIndex = route?.split('/').indexOf(':userId') ?? -1;
  const userId = userIdIndex < 0 ? undefined : c.req.path.split('/')[userIdIndex];
  // Only a well-formed id is echoed: anything else is caller input, which stays out of the log.
  if (userId !== undefined && TWITCH_USER_ID.test(userId)) fields.userId = userId;
  logEvent('request', fields);
};
