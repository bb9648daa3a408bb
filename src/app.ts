import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { secureHeaders } from 'hono/secure-headers';
import { getConfig } from './config';
import type { AppEnv } from './env';
import { isConsolePath } from './console/console-guard';
import { isUnknownSealingKey, noteUnknownSealingKey } from './crypto/key-health';
import { BrokerError, ConfigError, temporarilyUnavailable } from './errors';
import { requestBodyLimit, requestSizeLimits } from './http/request-limits';
import { requestLog } from './http/request-log';
import { logEvent } from './log';
import { adminRoutes } from './routes/admin';
import { adminConsoleRoutes } from './routes/admin-console';
import { adminUserRoutes } from './routes/admin-users';
import { healthRoutes } from './routes/health';
import { deviceRoutes } from './routes/device';
import { eventSubRoutes } from './routes/eventsub';
import { helixProxyRoutes } from './routes/helix-proxy';
import { homeRoutes } from './routes/home';
import { importRoutes } from './routes/import';
import { loginRoutes } from './routes/login';
import { openApiRoutes } from './routes/openapi';
import { sessionRoutes } from './routes/session';
import { tokenRoutes } from './routes/tokens';

/** The broker's HTTP surface: middleware, routers, and one error shape for everything. */
export const app = new Hono<AppEnv>();

app.use(requestLog);
// Headers a route set itself stay (the admin console's X-Frame-Options: DENY, its CSP); the rest are filled in.
app.use(secureHeaders({ overwrite: false }));
app.use(requestSizeLimits);
app.use(requestBodyLimit);
app.use(
  methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json({ error: 'method_not_allowed', error_description: `${c.req.method} is not allowed here; use ${methods.join(', ')}` }, 405, {
        Allow: methods.join(', '),
      }),
  }),
);
app.use(
  cors({
    // Only listed origins get CORS, and only they get credentials; a broken ALLOWED_ORIGINS gets none.
    origin: (origin, c) => {
      // The console is for the broker's own pages only: an allowed frontend on the same site would
      // otherwise read it with the operator's SameSite=Strict cookie (a same-site request carries it).
      if (isConsolePath(c.req.path)) return null;
      try {
        return getConfig(c.env).allowedOrigins.has(origin) ? origin : null;
      } catch {
        return null;
      }
    },
    credentials: true,
    allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type'],
    // A frontend told to come back later (429, 503) must be able to read when.
    exposeHeaders: ['Retry-After'],
    maxAge: 600,
  }),
);

app.route('/', homeRoutes);
app.route('/', healthRoutes);
app.route('/', loginRoutes);
app.route('/', sessionRoutes);
app.route('/', tokenRoutes);
app.route('/', adminRoutes);
app.route('/', adminUserRoutes);
app.route('/', adminConsoleRoutes);
app.route('/', importRoutes);
app.route('/', eventSubRoutes);
app.route('/', deviceRoutes);
app.route('/', helixProxyRoutes);
// The document is generated on first request, from every route the app holds by then.
app.route('/', openApiRoutes(app));

app.notFound((c) => c.json({ error: 'not_found', error_description: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

app.onError((error, c) => {
  if (error instanceof BrokerError) {
    if (error.status >= 500) logEvent('request.error', { code: error.code, description: error.description });
    return error.toResponse();
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    return c.json({ error: status === 413 ? 'request_too_large' : 'invalid_request', error_description: error.message || 'bad request' }, status);
  }
  // A retired key still sealed stored values: say so (and show it in /health), keep the grant.
  if (isUnknownSealingKey(error)) {
    c.executionCtx.waitUntil(noteUnknownSealingKey(c.env, error));
    logEvent('request.unknown_sealing_key', { path: new URL(c.req.url).pathname });
    return new ConfigError('TOKEN_ENCRYPTION_KEY', 'does not hold the key that sealed stored tokens: see /health').toResponse();
  }
  // A Durable Object reset or overloaded mid-call (the runtime flags these as retryable): the
  // grant is intact in storage, so the caller is told to come back, not that the broker broke.
  if (isRetryablePlatformError(error)) {
    logEvent('request.platform_retryable', { name: error.name, path: new URL(c.req.url).pathname });
    return temporarilyUnavailable(1).toResponse();
  }
  // Unknown failures: the name goes to the log, a generic body to the caller. Never the message,
  // which could quote input.
  logEvent('request.unhandled', { name: error instanceof Error ? error.name : 'unknown', path: new URL(c.req.url).pathname });
  return c.json({ error: 'server_error', error_description: 'the broker failed unexpectedly' }, 500);
});

/** Errors the Workers runtime marks as worth retrying (Durable Object reset, overloaded). */
function isRetryablePlatformError(error: Error): boolean {
  const flags = error as Error & { retryable?: unknown; overloaded?: unknown };
  return flags.retryable === true || flags.overloaded === true;
}
