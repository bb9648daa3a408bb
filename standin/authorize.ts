import { Hono } from 'hono';
import { renderConsentPage } from './consent-page';
import { paramValue, parseScopes, twitchError, type StandinEnv } from './http';
import type { RegisteredClient } from './model';
import type { StandinState } from './state';

/** An authorize request whose client and redirect_uri have been checked. */
interface CheckedAuthorizeRequest {
  client: RegisteredClient;
  redirectUri: string;
  scopes: string[];
  state: string | undefined;
}

type AuthorizeCheck = { accepted: true; request: CheckedAuthorizeRequest } | { accepted: false; response: Response };

// The consent form's own fields; everything else is an authorize parameter to carry through.
const CONSENT_FIELDS = new Set(['user_id', 'decision']);

/** Appends query parameters to a redirect URI, encoding spaces as `+` like Twitch does. */
export function redirectUriWith(redirectUri: string, query: [string, string | undefined][]): string {
  const url = new URL(redirectUri);
  for (const [name, value] of query) if (value !== undefined) url.searchParams.append(name, value);
  return url.toString();
}

function authorizeParamsToCarry(params: URLSearchParams): [string, string][] {
  const carried: [string, string][] = [];
  params.forEach((value, name) => {
    if (!CONSENT_FIELDS.has(name)) carried.push([name, value]);
  });
  return carried;
}

function redirectTo(location: string): Response {
  return new Response(null, { status: 302, headers: { Location: location } });
}

// Order follows what a browser would see: a bad client is a page; a bad redirect goes back to the app.
function checkAuthorizeRequest(state: StandinState, params: URLSearchParams): AuthorizeCheck {
  const clientId = paramValue(params, 'client_id');
  if (clientId === undefined) return { accepted: false, response: twitchError(400, 'missing client_id') };
  const client = state.findClient(clientId);
  if (client === undefined) return { accepted: false, response: twitchError(400, 'invalid client') };
  const redirectUri = paramValue(params, 'redirect_uri');
  if (redirectUri === undefined) return { accepted: false, response: twitchError(400, 'missing redirect_uri') };
  if (!URL.canParse(redirectUri)) return { accepted: false, response: twitchError(400, 'Parameter redirect_uri does not match registered URI') };
  const oauthState = paramValue(params, 'state');
  if (!state.isRedirectUriRegistered(client, redirectUri)) {
    const location = redirectUriWith(redirectUri, [
      ['error', 'redirect_mismatch'],
      ['error_description', 'Parameter redirect_uri does not match registered URI'],
      ['state', oauthState],
    ]);
    return { accepted: false, response: redirectTo(location) };
  }
  const responseType = paramValue(params, 'response_type');
  if (responseType === undefined) return { accepted: false, response: twitchError(400, 'missing response_type') };
  if (responseType !== 'code') return { accepted: false, response: twitchError(400, 'unsupported response_type') };
  return { accepted: true, request: { client, redirectUri, scopes: parseScopes(paramValue(params, 'scope')), state: oauthState } };
}

/** GET /oauth2/authorize shows the consent page; POST /oauth2/authorize carries the user's decision back to the app. */
export function authorizeRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.get('/authorize', (c) => {
    const params = c.get('oauthParams');
    const check = checkAuthorizeRequest(state, params);
    if (!check.accepted) return check.response;
    const html = renderConsentPage({
      clientId: check.request.client.clientId,
      scopes: check.request.scopes,
      users: state.listUsers(),
      authorizeParams: authorizeParamsToCarry(params),
    });
    return c.html(html);
  });

  routes.post('/authorize', (c) => {
    const params = c.get('oauthParams');
    const check = checkAuthorizeRequest(state, params);
    if (!check.accepted) return check.response;
    const { client, redirectUri, scopes, state: oauthState } = check.request;

    const decision = paramValue(params, 'decision');
    if (decision === 'deny') {
      return redirectTo(
        redirectUriWith(redirectUri, [
          ['error', 'access_denied'],
          ['error_description', 'The user denied you access'],
          ['state', oauthState],
        ]),
      );
    }
    if (decision !== 'allow') return twitchError(400, 'missing decision');
    const userIdOrLogin = paramValue(params, 'user_id');
    if (userIdOrLogin === undefined) return twitchError(400, 'missing user_id');
    // A name nobody has used yet becomes a new test user, so "another user" never ends on an error page.
    const user = state.findOrCreateUser(userIdOrLogin.trim());
    if (user === undefined) {
      const html = renderConsentPage({
        clientId: client.clientId,
        scopes,
        users: state.listUsers(),
        authorizeParams: authorizeParamsToCarry(params),
        problem: `"${userIdOrLogin}" is neither a user id (digits) nor a Twitch login (letters, digits and _, at most 25).`,
      });
      return c.html(html, 400);
    }

    const code = state.issueAuthorizationCode({
      clientId: client.clientId,
      userId: user.id,
      scopes,
      redirectUri,
      nonce: paramValue(params, 'nonce') ?? null,
      claimsRequest: paramValue(params, 'claims') ?? null,
    });
    return redirectTo(
      redirectUriWith(redirectUri, [
        ['code', code.code],
        ['scope', scopes.join(' ')],
        ['state', oauthState],
      ]),
    );
  });

  return routes;
}
