import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, BROKER, TWITCH } from './test-bindings';
import { oneTimeStore } from '../src/vault/stubs';
import { broker, consent, CookieJar, exchangeSessionCode, json, login, startLogin } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';
import { useFaultPace } from './support/call-pace';

freshStateForEachTest();
// Its outage tests sit through the broker's deadlines: at the fault tests' pace (test/support/call-pace.ts).
useFaultPace();

describe('GET /authorize', () => {
  it('redirects to Twitch with client_id, our /callback, response_type=code, the scopes and a state', async () => {
    const url = await startLogin(new CookieJar(), { scope: 'chat:read chat:edit' });
    expect(url.origin + url.pathname).toBe(`${TWITCH}/oauth2/authorize`);
    expect(url.searchParams.get('client_id')).toBe('standin-client-id');
    expect(url.searchParams.get('redirect_uri')).toBe(`${BROKER}/callback`);
    expect(url.searchParams.get('response_type')).toBe('code');
    // openid always rides along: its nonce-bound id_token stops authorization-code injection.
    expect(url.searchParams.get('scope')).toBe('chat:read chat:edit openid');
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.has('force_verify')).toBe(false);
  });

  it('uses DEFAULT_SCOPES when no scope is named, and passes force_verify through', async () => {
    const jar = new CookieJar();
    const response = await jar.fetch(`/authorize?force_verify=true&return_to=${encodeURIComponent(APP_ORIGIN)}`);
    const url = new URL(response.headers.get('Location')!);
    expect(url.searchParams.get('scope')).toBe('user:read:email openid');
    expect(url.searchParams.get('force_verify')).toBe('true');
  });

  it('issues a different state on every call', async () => {
    const jar = new CookieJar();
    const first = await startLogin(jar);
    const second = await startLogin(jar);
    expect(first.searchParams.get('state')).not.toBe(second.searchParams.get('state'));
  });

  it('binds the flow to the browser with an HttpOnly, __Host- cookie', async () => {
    const response = await broker(`/authorize?return_to=${encodeURIComponent(APP_ORIGIN)}`);
    const cookie = response.headers.getSetCookie().find((value) => value.startsWith('__Host-ttb_login='));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Secure/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
  });

  it.each([
    ['another origin', 'https://evil.example.com/'],
    ['a protocol-relative URL', '//evil.example.com/'],
    ['javascript:', 'javascript:alert(1)'],
    ['userinfo', 'https://app.example.com@evil.example.com/'],
    ['a backslash', 'https:\\\\evil.example.com'],
  ])('refuses return_to on %s with 400', async (_name, returnTo) => {
    const response = await broker(`/authorize?return_to=${encodeURIComponent(returnTo)}`);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses malformed scopes with 400', async () => {
    const response = await broker(`/authorize?scope=${encodeURIComponent('chat:read <script>')}`);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('scope') });
  });
});

describe('GET /callback', () => {
  it('stores the grant, sets a session cookie and sends the browser back with a session code', async () => {
    const { response, location, jar } = await login({ userId: '100001' });
    expect(response.status).toBe(302);
    expect(location!.origin).toBe(APP_ORIGIN);
    expect(location!.pathname).toBe('/after-login');
    expect(location!.searchParams.get('session_code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = response.headers.getSetCookie().find((value) => value.startsWith('__Host-ttb_session='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Secure/i);

    const token = await jar.fetch('/token');
    expect(token.status).toBe(200);
    expect(await json(token)).toMatchObject({ user_id: '100001', login: 'streamer_alice', token_type: 'bearer' });
  });

  it('exchanges the code once and learns the user from /oauth2/validate', async () => {
    await login({ userId: '100002' });
    const counts = await twitch.counts();
    expect(counts.token.authorization_code).toBe(1);
    expect(counts.validate).toBe(1);
  });

  it('refuses a replayed state with 400 and no second exchange', async () => {
    const { jar, callbackUrl } = await login();
    const replay = await jar.fetch(`${callbackUrl.pathname}${callbackUrl.search}`);
    expect(replay.status).toBe(400);
    expect(await json(replay)).toMatchObject({ error: 'invalid_state' });
    expect((await twitch.counts()).token.authorization_code).toBe(1);
  });

  it('refuses a forged state with 400', async () => {
    const jar = new CookieJar();
    await startLogin(jar);
    const response = await jar.fetch(`/callback?code=abc&state=${'A'.repeat(43)}`);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_state' });
  });

  it('refuses a missing state with 400', async () => {
    const response = await new CookieJar().fetch('/callback?code=abc');
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_state' });
  });

  it('refuses a state that has expired (older than ten minutes)', async () => {
    const jar = new CookieJar();
    const twitchUrl = await startLogin(jar);
    const state = twitchUrl.searchParams.get('state')!;
    const stub = await oneTimeStore(env, `state:${state}`);
    await runInDurableObject(stub, async (_instance, ctx) => {
      const record = await ctx.storage.get<{ expiresAt: number }>('record');
      await ctx.storage.put('record', { ...record, expiresAt: Date.now() - 1 });
    });
    const callbackUrl = await consent(twitchUrl, '100001');
    const response = await jar.fetch(`${callbackUrl.pathname}${callbackUrl.search}`);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_state', error_description: expect.stringContaining('expired') });
  });

  it('refuses a state presented by another browser, without burning it for the right one', async () => {
    const victim = new CookieJar();
    const twitchUrl = await startLogin(victim);
    const callbackUrl = await consent(twitchUrl, '100001');

    const attacker = new CookieJar();
    await startLogin(attacker); // the attacker has a login cookie of its own, just not the victim's
    const stolen = await attacker.fetch(`${callbackUrl.pathname}${callbackUrl.search}`);
    expect(stolen.status).toBe(400);
    expect(attacker.sessionCookie).toBeUndefined();

    const genuine = await victim.fetch(`${callbackUrl.pathname}${callbackUrl.search}`);
    expect(genuine.status).toBe(302);
    expect(victim.sessionCookie).toBeDefined();
  });

  it('sends a denial at Twitch back to return_to with error=access_denied and no session', async () => {
    const { response, location, jar } = await login({ decision: 'deny' });
    expect(response.status).toBe(302);
    expect(location!.origin).toBe(APP_ORIGIN);
    expect(location!.searchParams.get('error')).toBe('access_denied');
    expect(location!.searchParams.has('session_code')).toBe(false);
    expect(jar.sessionCookie).toBeUndefined();
    expect((await twitch.counts()).token.authorization_code).toBe(0);
  });

  it('sends the browser back with temporarily_unavailable when Twitch fails the code exchange', async () => {
    await twitch.inject({ path: '/oauth2/token', status: 503, times: -1 });
    const { response, location, jar } = await login();
    expect(response.status).toBe(302);
    expect(location!.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(jar.sessionCookie).toBeUndefined();
  });
});

describe('POST /session', () => {
  it('exchanges the one-time session code for a bearer session token that works at /token', async () => {
    const { location, verifier } = await login({ userId: '100003' });
    const code = location!.searchParams.get('session_code');
    const exchange = () => exchangeSessionCode(code, verifier);
    const first = await exchange();
    expect(first.status).toBe(200);
    const body = await json<{ session_token: string; token_type: string; user_id: string }>(first);
    expect(body).toMatchObject({ token_type: 'bearer', user_id: '100003' });
    expect(first.headers.get('Access-Control-Allow-Origin')).toBe(APP_ORIGIN);

    const token = await broker('/token', { headers: { Authorization: `Bearer ${body.session_token}` } });
    expect(token.status).toBe(200);
    expect(await json(token)).toMatchObject({ user_id: '100003', login: 'viewer_carol' });

    const second = await exchange();
    expect(second.status).toBe(400);
  });

  it('refuses an Origin that is not allowed', async () => {
    const { location, verifier } = await login();
    const response = await exchangeSessionCode(location!.searchParams.get('session_code'), verifier, { Origin: 'https://evil.example.com' });
    expect(response.status).toBe(403);
    expect(await json(response)).toMatchObject({ error: 'forbidden_origin' });
  });

  it('refuses a body that is not JSON with a 4xx JSON error', async () => {
    const response = await broker('/session', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'x' });
    expect(response.status).toBe(415);
    const broken = await broker('/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' });
    expect(broken.status).toBe(400);
    expect(await json(broken)).toHaveProperty('error');
  });
});
