import { brokerErrorFrom, BrokerError, isErrorBody, LoginFailedError, trimBaseUrl, type ErrorContext } from './errors.js';
import { codeChallengeOf, newCodeVerifier } from './pkce.js';
import { TokenCache } from './token-cache.js';
import { watchUserToken, type TokenWatch, type WatchUserTokenOptions } from './watch-user-token.js';
import type { AppTokenBody, SessionBody, UserTokenBody } from './types.js';

/** Scopes as a list or a space-separated string. */
export type ScopeInput = string | readonly string[];

/** The parts of a browser window that `login` and `completeLogin` use; a real `window` fits. */
export interface BrowserWindow {
  location: { readonly href: string; assign(url: string): void };
  history: { readonly state: unknown; replaceState(data: unknown, unused: string, url?: string): void };
  sessionStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void };
}

/** Options of `createBrokerClient`. */
export interface BrokerClientOptions {
  /** The broker's origin, e.g. `https://tokens.example.com` or `http://localhost:8787`. */
  baseUrl: string;
  /** An API key (server side only: never ship one to a browser). Needed by `getAppToken` and `getUserToken`. */
  apiKey?: string;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
  /** The window `login` and `completeLogin` act on; the global one by default. */
  window?: BrowserWindow;
  /**
   * How long a call may wait in total for a `503` answer's `Retry-After` before retrying (default
   * 10 s). A longer `Retry-After` is not waited for: the call throws `BrokerUnavailableError` at once.
   */
  maxRetryWaitSeconds?: number;
}

/** Options of the server-side `getUserToken` and the browser's `getToken`. */
export interface UserTokenOptions {
  /** Scopes the caller needs: a grant lacking any fails with `InsufficientScopeError`. */
  scope?: ScopeInput;
  /** The caller's Helix call got 401 with the token it was given: the broker checks it with Twitch and refreshes a dead one. */
  forceRefresh?: boolean;
}

/** Options of `login`. */
export interface LoginOptions {
  /** Scopes to ask Twitch for; the broker's DEFAULT_SCOPES when left out. */
  scope?: ScopeInput;
  /** Where the broker sends the browser back (an origin in the broker's ALLOWED_ORIGINS); this page by default. */
  returnTo?: string;
}

/** A client of one broker. Token methods resolve to the broker's JSON bodies as documented. */
export interface BrokerClient {
  /** Server side: the app access token (GET /token/app). */
  getAppToken(options?: { forceRefresh?: boolean }): Promise<AppTokenBody>;
  /** Server side: a stored user's access token (GET /token/users/:userId). */
  getUserToken(userId: string, options?: UserTokenOptions): Promise<UserTokenBody>;
  /**
   * Server side: a live connection for one user's tokens; `onToken` gets the current token and every
   * new one (reconnects on its own). For bots holding chat or EventSub connections.
   */
  watchUserToken(userId: string, onToken: (token: UserTokenBody) => void, options?: WatchUserTokenOptions): TokenWatch;
  /** Browser: starts a PKCE login; the browser leaves the page for Twitch's consent page. */
  login(options?: LoginOptions): Promise<void>;
  /**
   * Browser, on the return page: takes `session_code` out of the URL, then exchanges it with the
   * pending PKCE verifier. Null when the URL carries no login answer, or one this tab did not ask for.
   */
  completeLogin(): Promise<{ userId: string } | null>;
  /** Browser: the signed-in user's access token (GET /token). */
  getToken(options?: UserTokenOptions): Promise<UserTokenBody>;
  /** Browser: logs out at the broker (revokes the grant, ends every session of the user) and forgets the session. */
  logout(): Promise<void>;
}

/** Login answers the return page may carry; all leave the URL before anything else happens. */
const LOGIN_PARAMS = ['session_code', 'error', 'error_description'] as const;
/** A pending verifier older than the broker's 10-minute login state is useless. */
const PENDING_LOGIN_TTL_MS = 10 * 60_000;

/** Creates a client for the broker at `baseUrl`. */
export function createBrokerClient(options: BrokerClientOptions): BrokerClient {
  const baseUrl = trimBaseUrl(options.baseUrl);
  if (!/^https?:\/\/[^/]+$/.test(baseUrl)) throw new TypeError('baseUrl must be the broker\'s origin, e.g. "https://tokens.example.com"');
  // Called through a wrapper: a bare `window.fetch` reference throws "Illegal invocation" when called as a method.
  const fetchFn: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const maxRetryWaitMs = Math.max(0, options.maxRetryWaitSeconds ?? 10) * 1000;
  const pendingLoginKey = `twitch-token-broker:pkce:${baseUrl}`;

  const appTokens = new TokenCache<AppTokenBody>();
  /** Server-side user tokens by `user:<id>`, and the browser's own under `session`. */
  const userTokens = new TokenCache<UserTokenBody>();
  /** The browser's session token from POST /session, kept in memory only. */
  let session: { token: string; expiresAt: number } | null = null;

  /** One broker call: JSON in and out, typed errors, and the 503 `Retry-After` wait. */
  async function call<T>(path: string, init: RequestInit, context: ErrorContext, isBody: (value: unknown) => value is T): Promise<T> {
    let waitedMs = 0;
    for (;;) {
      const response = await fetchFn(`${baseUrl}${path}`, init);
      const parsed = await readJson(response);
      if (response.ok) {
        if (isBody(parsed)) return parsed;
        throw new BrokerError(response.status, { error: 'invalid_response', error_description: `unexpected answer from ${path.split('?')[0]}` });
      }
      if (!isErrorBody(parsed)) {
        throw new BrokerError(response.status, { error: 'invalid_response', error_description: `HTTP ${response.status} without an error body` });
      }
      const retryAfterSeconds = retryAfterOf(response.headers.get('Retry-After'));
      const error = brokerErrorFrom(response.status, parsed, { baseUrl, ...context, retryAfterSeconds });
      // At least a second per wait, so a `Retry-After: 0` cannot turn into a tight loop.
      const waitMs = Math.max(1, retryAfterSeconds) * 1000;
      if (response.status === 503 && waitedMs + waitMs <= maxRetryWaitMs) {
        waitedMs += waitMs;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        continue;
      }
      throw error;
    }
  }

  function apiKeyHeaders(): Record<string, string> {
    if (!options.apiKey) throw new TypeError('getAppToken and getUserToken need createBrokerClient({ apiKey })');
    return { Authorization: `Bearer ${options.apiKey}` };
  }

  /** A user token from `path`, cached under `key`, reusing a cached one that holds every needed scope. */
  function userToken(key: string, path: string, request: UserTokenOptions, init: () => RequestInit, sessionCall: boolean): Promise<UserTokenBody> {
    const scopes = scopeList(request.scope);
    const forceRefresh = request.forceRefresh === true;
    if (!forceRefresh) {
      const cached = userTokens.get(key, (body) => scopes.every((scope) => body.scopes.includes(scope)));
      if (cached) return Promise.resolve(cached);
    }
    const query = new URLSearchParams();
    if (scopes.length > 0) query.set('scope', scopes.join(' '));
    if (forceRefresh) query.set('force_refresh', 'true');
    const url = query.toString() === '' ? path : `${path}?${query}`;
    // A re-login should keep what the grant held when it was last seen, plus what is asked for now.
    const seenScopes = (userTokens.peek(key)?.scopes ?? []).filter((scope) => scope !== 'openid');
    return userTokens.load(key, `${key} ${url}`, () => call(url, init(), { scopes: [...new Set([...seenScopes, ...scopes])], sessionCall }, isUserTokenBody));
  }

  function browserWindow(): BrowserWindow {
    const win = options.window ?? (globalThis as { window?: BrowserWindow }).window;
    if (!win) throw new TypeError('login and completeLogin need a browser window (or createBrokerClient({ window }))');
    return win;
  }

  /** Takes this tab's pending verifier (single use), if there is a fresh one. */
  function takePendingVerifier(win: BrowserWindow): string | null {
    const stored = win.sessionStorage.getItem(pendingLoginKey);
    win.sessionStorage.removeItem(pendingLoginKey);
    if (stored === null) return null;
    try {
      const pending: unknown = JSON.parse(stored);
      if (typeof pending !== 'object' || pending === null) return null;
      const { verifier, createdAt } = pending as { verifier?: unknown; createdAt?: unknown };
      if (typeof verifier !== 'string' || typeof createdAt !== 'number' || Date.now() - createdAt > PENDING_LOGIN_TTL_MS) return null;
      return verifier;
    } catch {
      return null;
    }
  }

  /** How a browser call presents its session: the bearer token from completeLogin, else the cookie. */
  function sessionInit(method: 'GET' | 'POST'): RequestInit {
    if (session && Date.now() >= session.expiresAt) session = null;
    if (session) return { method, headers: { Authorization: `Bearer ${session.token}` } };
    // The cookie (a frontend on the broker's own site). Asserted: Workers' RequestInit type has no
    // `credentials`, and this path only runs in browsers.
    return { method, credentials: 'include' } as RequestInit;
  }

  return {
    getAppToken(request = {}) {
      const forceRefresh = request.forceRefresh === true;
      if (!forceRefresh) {
        const cached = appTokens.get('app');
        if (cached) return Promise.resolve(cached);
      }
      const path = forceRefresh ? '/token/app?force_refresh=true' : '/token/app';
      return appTokens.load('app', path, () => call(path, { headers: apiKeyHeaders() }, {}, isAppTokenBody));
    },

    getUserToken(userId, request = {}) {
      return userToken(`user:${userId}`, `/token/users/${encodeURIComponent(userId)}`, request, () => ({ headers: apiKeyHeaders() }), false);
    },

    watchUserToken(userId, onToken, watchOptions = {}) {
      if (!options.apiKey) throw new TypeError('watchUserToken needs an apiKey (scope users): it is for servers, not browsers');
      return watchUserToken(baseUrl, options.apiKey, userId, onToken, watchOptions);
    },

    async login(request = {}) {
      const win = browserWindow();
      const verifier = newCodeVerifier();
      const returnTo = new URL(request.returnTo ?? withoutLoginParams(win.location.href), win.location.href).href;
      win.sessionStorage.setItem(pendingLoginKey, JSON.stringify({ verifier, createdAt: Date.now() }));
      session = null;
      userTokens.clear('session');
      const query = new URLSearchParams({ code_challenge: await codeChallengeOf(verifier), code_challenge_method: 'S256', return_to: returnTo });
      const scopes = scopeList(request.scope);
      if (scopes.length > 0) query.set('scope', scopes.join(' '));
      win.location.assign(`${baseUrl}/authorize?${query}`);
    },

    async completeLogin() {
      const win = browserWindow();
      const url = new URL(win.location.href);
      const code = url.searchParams.get('session_code');
      const error = url.searchParams.get('error');
      if (code === null && error === null) return null;
      // First of all, the code leaves the address bar: history, Referer, analytics and extensions
      // read URLs, and a leaked code is only worthless while no one else holds the verifier.
      win.history.replaceState(win.history.state, '', withoutLoginParams(url.href));
      const verifier = takePendingVerifier(win);
      // Only a login this tab started is completed: a code or error in a link someone handed us is ignored.
      if (verifier === null) return null;
      if (error !== null) throw new LoginFailedError(error, url.searchParams.get('error_description') ?? '');
      if (code === null) return null;
      const started = Date.now();
      const answer = await call(
        '/session',
        { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ session_code: code, code_verifier: verifier }) },
        {},
        isSessionBody,
      );
      session = { token: answer.session_token, expiresAt: started + answer.expires_in * 1000 };
      userTokens.clear('session');
      return { userId: answer.user_id };
    },

    getToken(request = {}) {
      return userToken('session', '/token', request, () => sessionInit('GET'), true);
    },

    async logout() {
      const init = sessionInit('POST');
      session = null;
      userTokens.clear('session');
      try {
        await call('/logout', init, { sessionCall: true }, (value): value is unknown => true);
      } catch (error) {
        // Already logged out (no session, or it was ended elsewhere): that is what was asked for.
        if (error instanceof BrokerError && error.code === 'unauthorized') return;
        throw error;
      }
    },
  };
}

/** Scopes as a checked list. */
function scopeList(scope: ScopeInput | undefined): string[] {
  if (scope === undefined) return [];
  const list = typeof scope === 'string' ? scope.split(' ') : [...scope];
  return [...new Set(list.map((item) => item.trim()).filter(Boolean))];
}

/** A URL without the login answer parameters. */
function withoutLoginParams(href: string): string {
  const url = new URL(href);
  for (const name of LOGIN_PARAMS) url.searchParams.delete(name);
  return url.href;
}

/** Seconds from a Retry-After header (seconds or an HTTP date); 1 when missing or unreadable. */
function retryAfterOf(header: string | null): number {
  if (header === null) return 1;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? 1 : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** The body as JSON, or undefined when it is not JSON. */
async function readJson(response: Response): Promise<unknown> {
  if (!(response.headers.get('Content-Type') ?? '').toLowerCase().includes('json')) {
    await response.body?.cancel();
    return undefined;
  }
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function isAppTokenBody(value: unknown): value is AppTokenBody {
  return isRecord(value) && typeof value.access_token === 'string' && typeof value.expires_in === 'number' && typeof value.expires_at === 'number';
}

function isUserTokenBody(value: unknown): value is UserTokenBody {
  return isAppTokenBody(value) && isRecord(value) && typeof value.user_id === 'string' && Array.isArray(value.scopes);
}

function isSessionBody(value: unknown): value is SessionBody {
  return isRecord(value) && typeof value.session_token === 'string' && typeof value.user_id === 'string' && typeof value.expires_in === 'number';
}
