import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BrokerError,
  BrokerUnavailableError,
  createBrokerClient,
  InsufficientScopeError,
  LoginFailedError,
  NotLoggedInError,
  ReauthorizationRequiredError,
  type BrowserWindow,
} from '../../client/index';
import { logInAs, standinControl, walkLogin } from '../e2e/log-in';
import { Browser, startLocalSystem, type LocalSystem } from '../e2e/local-system';

/**
 * `twitch-token-broker-client` against the real broker (`wrangler dev`) and the stand-in: what a
 * backend (API key) and a browser overlay (PKCE login, session token) get from it.
 */

let system: LocalSystem;
const APP_ORIGIN = 'http://localhost:5173';

beforeAll(async () => {
  system = await startLocalSystem('client-sdk', { allowedOrigins: APP_ORIGIN });
  const browser = new Browser();
  await logInAs(browser, system, '100001', ['user:read:email', 'chat:read']);
  await logInAs(new Browser(), system, '100002', ['user:read:email']);
  await logInAs(new Browser(), system, '100003', ['user:read:email']);
});

afterAll(async () => {
  await system?.stop();
});

/** A fetch that goes to the network and writes down each request (method, path and query) in `log`. */
function recordingFetch(log: string[] = []): { fetch: typeof fetch; log: string[] } {
  return {
    log,
    fetch: async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      log.push(`${init?.method ?? 'GET'} ${url.pathname}${url.search}`);
      return fetch(input, init);
    },
  };
}

const serverClient = (recorder = recordingFetch(), extra: { maxRetryWaitSeconds?: number } = {}) =>
  createBrokerClient({ baseUrl: system.broker.url, apiKey: system.apiKey, fetch: recorder.fetch, ...extra });

/** The route's own answer, fetched directly. */
async function routeBody(path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${system.broker.url}${path}`, { headers: { Authorization: `Bearer ${system.apiKey}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('server side (API key)', () => {
  it('getAppToken resolves to the /token/app body and serves it from memory afterwards', async () => {
    const recorder = recordingFetch();
    const client = serverClient(recorder);
    const token = await client.getAppToken();
    expect(token).toEqual(await routeBody('/token/app'));
    expect(await client.getAppToken()).toEqual(token);
    expect(recorder.log).toEqual(['GET /token/app']);
  });

  it('getUserToken resolves to the /token/users/:id body; fifty concurrent calls make one request', async () => {
    const recorder = recordingFetch();
    const client = serverClient(recorder);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getUserToken('100002')));
    expect(recorder.log).toEqual(['GET /token/users/100002']);
    expect(new Set(tokens.map((token) => token.access_token)).size).toBe(1);
    expect(tokens[0]).toEqual(await routeBody('/token/users/100002'));
    expect(Object.keys(tokens[0]!).sort()).toEqual([
      'access_token',
      'client_id',
      'expires_at',
      'expires_in',
      'login',
      'obtained_at',
      'scopes',
      'token_type',
      'user_id',
    ]);
  });

  it('forceRefresh replaces a token Twitch killed early, and later calls get the new one from memory', async () => {
    const recorder = recordingFetch();
    const client = serverClient(recorder);
    const before = await client.getUserToken('100003');
    await standinControl(system, '/expire', { access_token: before.access_token });
    const forced = await Promise.all([client.getUserToken('100003', { forceRefresh: true }), client.getUserToken('100003', { forceRefresh: true })]);
    expect(forced[0].access_token).not.toBe(before.access_token);
    expect(forced[1]).toEqual(forced[0]);
    expect(await client.getUserToken('100003')).toEqual(forced[0]);
    expect(recorder.log).toEqual(['GET /token/users/100003', 'GET /token/users/100003?force_refresh=true']);
    const validate = await fetch(`${system.twitch.url}/oauth2/validate`, { headers: { Authorization: `OAuth ${forced[0].access_token}` } });
    expect(validate.status).toBe(200);
  });

  it("a scope the grant holds is served from memory; one it lacks is an InsufficientScopeError with the broker's authorize_url", async () => {
    const recorder = recordingFetch();
    const client = serverClient(recorder);
    await client.getUserToken('100001');
    expect((await client.getUserToken('100001', { scope: 'chat:read' })).scopes).toContain('chat:read');
    expect(recorder.log).toEqual(['GET /token/users/100001']);

    const error = await rejectionOf(client.getUserToken('100001', { scope: ['chat:read', 'channel:manage:broadcast'] }));
    expect(error).toBeInstanceOf(InsufficientScopeError);
    const refusal = error as InsufficientScopeError;
    expect(refusal).toMatchObject({ status: 403, code: 'insufficient_scope', missingScopes: ['channel:manage:broadcast'] });
    const authorizeUrl = new URL(refusal.authorizeUrl);
    expect(authorizeUrl.origin + authorizeUrl.pathname).toBe(`${system.broker.url}/authorize`);
    expect(authorizeUrl.searchParams.get('scope')!.split(' ').sort()).toEqual(['channel:manage:broadcast', 'chat:read', 'user:read:email']);
    expect([...refusal.scopes].sort()).toEqual(['channel:manage:broadcast', 'chat:read', 'user:read:email']);
    expect(recorder.log.at(-1)).toBe(`GET /token/users/100001?${new URLSearchParams({ scope: 'chat:read channel:manage:broadcast' })}`);
  });

  it('a grant Twitch revoked is a ReauthorizationRequiredError whose authorizeUrl asks for the scopes last seen', async () => {
    await standinControl(system, '/users', { users: [{ id: '100004', login: 'revoked_dave' }] });
    await logInAs(new Browser(), system, '100004', ['user:read:email', 'moderator:read:chatters']);
    const client = serverClient();
    await client.getUserToken('100004');
    await standinControl(system, '/disconnect', { user_id: '100004' });
    const error = await rejectionOf(client.getUserToken('100004', { forceRefresh: true }));
    expect(error).toBeInstanceOf(ReauthorizationRequiredError);
    const refusal = error as ReauthorizationRequiredError;
    expect(refusal).toMatchObject({ status: 401, code: 'reauthorization_required' });
    expect([...refusal.scopes].sort()).toEqual(['moderator:read:chatters', 'user:read:email']);
    expect(refusal.authorizeUrl).toBe(`${system.broker.url}/authorize?${new URLSearchParams({ scope: refusal.scopes.join(' ') })}`);
  });

  it('an unknown user is a BrokerError not_found; a missing API key rejects before any request', async () => {
    const error = await rejectionOf(serverClient().getUserToken('999999'));
    expect(error).toBeInstanceOf(BrokerError);
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
    const recorder = recordingFetch();
    const keyless = createBrokerClient({ baseUrl: system.broker.url, fetch: recorder.fetch });
    await expect(keyless.getAppToken()).rejects.toThrow(TypeError);
    expect(recorder.log).toEqual([]);
  });

  it('a 503 is retried after its Retry-After and then succeeds; a longer wait than allowed throws BrokerUnavailableError', async () => {
    const failRefreshes = { path: '/oauth2/token', grantType: 'refresh_token', status: 503, times: -1 };
    const statuses: number[] = [];
    // The refresh fails until the broker has answered one 503; the client's retry then finds Twitch back.
    const healingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      statuses.push(response.status);
      if (response.status === 503) await standinControl(system, '/faults', null, 'DELETE');
      return response;
    };
    const client = createBrokerClient({ baseUrl: system.broker.url, apiKey: system.apiKey, fetch: healingFetch, maxRetryWaitSeconds: 60 });
    const before = await client.getUserToken('100002');
    await standinControl(system, '/expire', { access_token: before.access_token });
    await standinControl(system, '/faults', failRefreshes);
    const started = Date.now();
    const after = await client.getUserToken('100002', { forceRefresh: true });
    expect(statuses).toEqual([200, 503, 200]);
    expect(after.access_token).not.toBe(before.access_token);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);

    // Another user: the broker does not check a token it just refreshed again within 30 s.
    const impatient = serverClient(recordingFetch(), { maxRetryWaitSeconds: 0 });
    const alice = await impatient.getUserToken('100001');
    await standinControl(system, '/expire', { access_token: alice.access_token });
    await standinControl(system, '/faults', failRefreshes);
    try {
      const error = await rejectionOf(impatient.getUserToken('100001', { forceRefresh: true }));
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect((error as BrokerUnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    } finally {
      await standinControl(system, '/faults', null, 'DELETE');
    }
  });
});

/** The parts of a browser window the SDK touches, writing each step into `events`. */
function fakeWindow(href: string, events: string[]) {
  const storage = new Map<string, string>();
  const location = { href, assign: (url: string) => events.push(`assign ${url}`) };
  const win = {
    location,
    history: {
      state: { router: 'kept' } as unknown,
      replaceState(data: unknown, _unused: string, url?: string) {
        events.push(`replaceState ${url}`);
        win.history.state = data;
        if (url !== undefined) location.href = url;
      },
    },
    sessionStorage: {
      getItem: (key: string) => storage.get(key) ?? null,
      setItem: (key: string, value: string) => void storage.set(key, value),
      removeItem: (key: string) => void storage.delete(key),
    },
    storage,
  } satisfies BrowserWindow & { storage: Map<string, string> };
  return win;
}

/** A page of the app with the SDK, and the browser that walks its logins. */
function overlayPage(path = '/overlay?theme=dark') {
  const events: string[] = [];
  const recorder = recordingFetch(events);
  const win = fakeWindow(`${APP_ORIGIN}${path}`, events);
  const client = createBrokerClient({ baseUrl: system.broker.url, fetch: recorder.fetch, window: win });
  /** Follows the URL login() went to, through consent and /callback, and lands the page there. */
  const followLogin = async (userId: string, decision: 'allow' | 'deny' = 'allow') => {
    const assigned = [...events]
      .reverse()
      .find((event) => event.startsWith('assign '))!
      .slice('assign '.length);
    const back = await walkLogin(new Browser(), system, assigned, userId, decision);
    win.location.href = back.href;
    return back;
  };
  return { events, win, client, followLogin };
}

describe('browser side (PKCE login, session token)', () => {
  it('login goes to /authorize with an S256 challenge of the verifier it keeps in sessionStorage', async () => {
    const { events, win, client } = overlayPage();
    await client.login({ scope: ['chat:read'] });
    const url = new URL(events.at(-1)!.slice('assign '.length));
    expect(url.origin + url.pathname).toBe(`${system.broker.url}/authorize`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('return_to')).toBe(`${APP_ORIGIN}/overlay?theme=dark`);
    expect(url.searchParams.get('scope')).toBe('chat:read');
    const [stored] = [...win.storage.values()];
    const { verifier } = JSON.parse(stored!) as { verifier: string };
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    expect(url.searchParams.get('code_challenge')).toBe(Buffer.from(digest).toString('base64url'));
    expect(url.toString()).not.toContain(verifier);
  });

  it('completeLogin cleans the URL before exchanging the code, then getToken serves the /token body from memory', async () => {
    const { events, win, client, followLogin } = overlayPage();
    await client.login();
    const back = await followLogin('100002');
    expect(back.searchParams.get('session_code')).toBeTruthy();
    events.length = 0;

    expect(await client.completeLogin()).toEqual({ userId: '100002' });
    expect(events).toEqual([`replaceState ${APP_ORIGIN}/overlay?theme=dark`, 'POST /session']);
    expect(win.location.href).toBe(`${APP_ORIGIN}/overlay?theme=dark`);
    expect(win.history.state).toEqual({ router: 'kept' });
    expect(win.storage.size).toBe(0);

    const token = await client.getToken();
    expect(token).toMatchObject({ user_id: '100002', login: 'mod_bob', token_type: 'bearer', client_id: 'standin-client-id' });
    expect(await client.getToken()).toEqual(token);
    expect(events.slice(2)).toEqual(['GET /token']);
    expect(await client.completeLogin()).toBeNull();
  });

  it('completeLogin never redeems a session code this tab did not ask for, but still takes it out of the URL', async () => {
    const { events, win, client, followLogin } = overlayPage();
    await client.login();
    await followLogin('100002');
    win.storage.clear(); // another tab, or a link someone handed the user
    events.length = 0;
    expect(await client.completeLogin()).toBeNull();
    expect(events).toEqual([`replaceState ${APP_ORIGIN}/overlay?theme=dark`]);
  });

  it("a login the user cancelled on Twitch is a LoginFailedError with Twitch's code", async () => {
    const { client, win, followLogin } = overlayPage('/');
    await client.login();
    await followLogin('100002', 'deny');
    const error = await rejectionOf(client.completeLogin());
    expect(error).toBeInstanceOf(LoginFailedError);
    expect(error).toMatchObject({ code: 'access_denied' });
    expect(win.location.href).toBe(`${APP_ORIGIN}/`);
  });

  it('getToken without a session is a NotLoggedInError; a missing scope an InsufficientScopeError; after logout the session is gone', async () => {
    const { client, followLogin } = overlayPage();
    expect(await rejectionOf(client.getToken())).toBeInstanceOf(NotLoggedInError);
    await client.login();
    await followLogin('100003');
    await client.completeLogin();
    const error = await rejectionOf(client.getToken({ scope: 'bits:read' }));
    expect(error).toBeInstanceOf(InsufficientScopeError);
    expect((error as InsufficientScopeError).scopes).toContain('bits:read');
    await client.logout();
    expect(await rejectionOf(client.getToken())).toBeInstanceOf(NotLoggedInError);
    // The broker revoked the grant: the user's token is gone for server-side callers too.
    expect(await rejectionOf(serverClient().getUserToken('100003'))).toMatchObject({ code: 'not_found' });
    await client.logout(); // logging out twice is not an error
  });
});
