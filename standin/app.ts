import { Hono } from 'hono';
import { authorizeRoutes } from './authorize';
import { appWebhookRoutes, resetAppWebhook } from './app-webhook';
import { controlRoutes } from './control';
import { activationRoutes, deviceControlRoutes, deviceRoutes, resetDeviceFlow } from './device';
import { eventSubControlRoutes, eventSubHelixRoutes, resetEventSub } from './eventsub';
import { helixRoutes } from './helix';
import { renderHomePage } from './home-page';
import { twitchError, type StandinEnv } from './http';
import { InvalidInputError } from './json-input';
import { answerWithFault, isNoResponseError, oauthCallMiddleware } from './oauth-calls';
import { oidcRoutes, type OidcSigner } from './oidc';
import { setRateLimitHeaders } from './rate-limit';
import type { StandinState } from './state';
import { tokenRoutes } from './token';
import { validateAndRevokeRoutes } from './validate-revoke';

/** Assembles the stand-in's Hono app over one state object; both hosts serve this same app. */
export function buildStandinApp(state: StandinState, signer: OidcSigner): Hono<StandinEnv> {
  const app = new Hono<StandinEnv>();

  // Every response carries Twitch's rate-limit headers; only /oauth2 calls spend from the bucket.
  // Headers already set (a 429 fault's drained bucket) win.
  app.use('*', async (c, next) => {
    await next();
    const snapshot = c.req.path.startsWith('/oauth2/') ? state.rateLimit.spendOne() : state.rateLimit.peek();
    if (!c.res.headers.has('Ratelimit-Limit')) setRateLimitHeaders(c.res.headers, snapshot);
  });
  app.use('/oauth2/*', oauthCallMiddleware(state));
  // Helix and EventSub calls are logged with their raw request target (what a proxy really sent),
  // and answer a fault that names their path exactly.
  app.use('*', async (c, next) => {
    const path = c.req.path;
    if (path.startsWith('/oauth2/') || path.startsWith('/_standin/')) return next();
    const url = new URL(c.req.url);
    state.apiCalls.record({ method: c.req.method, target: c.env.incoming?.url ?? url.pathname + url.search, at: state.now() });
    const fault = state.faults.takeForPath(path);
    if (fault === null) return next();
    return answerWithFault(c, next, fault, state);
  });

  app.route('/oauth2', authorizeRoutes(state));
  // Before the token router: it takes the device grant and passes the others on.
  app.route('/oauth2', deviceRoutes(state));
  app.route('/oauth2', tokenRoutes(state, signer));
  app.route('/oauth2', validateAndRevokeRoutes(state));
  app.route('/oauth2', oidcRoutes(state, signer));
  app.use('/_standin/reset', async (_c, next) => {
    await next();
    resetEventSub(state);
    resetAppWebhook(state);
    resetDeviceFlow(state);
  });
  app.route('/_standin', controlRoutes(state));
  app.route('/helix/eventsub', eventSubHelixRoutes(state));
  app.route('/_standin/eventsub', eventSubControlRoutes(state));
  app.route('/_standin/app-webhook', appWebhookRoutes(state));
  app.route('/_standin/device', deviceControlRoutes(state));
  app.route('/', activationRoutes(state));
  app.route('/', helixRoutes(state));
  app.get('/', (c) => c.html(renderHomePage()));

  app.notFound(() => twitchError(404, 'Not Found'));
  app.onError((error) => {
    // Resets and aborted hangs must reach the host as thrown errors, not become 500s.
    if (isNoResponseError(error)) throw error;
    if (error instanceof InvalidInputError) return twitchError(400, error.message);
    console.error('twitch stand-in: unexpected error', error);
    return twitchError(500, 'Internal Server Error');
  });

  return app;
}
