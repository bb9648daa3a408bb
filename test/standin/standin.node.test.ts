import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTwitchStandin, type StandinOptions, type TwitchStandin } from '../../standin/index';
import { createStandinNodeListener } from '../../standin/node-host';
import { startTwitchStandinServer, type RunningStandinServer } from '../../standin/server';

const TWITCH = 'https://id.twitch.tv';
const CLIENT_ID = 'standin-client-id';
const CLIENT_SECRET = 'standin-client-secret';
const REDIRECT_URI = 'http://broker.test/callback';
const ALICE = '100001';
const BOB = '100002';

interface TokenJson {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  scope: string[];
  token_type: string;
  id_token?: string;
}

/** A stand-in on a hand-driven clock, so expiry tests don't sleep. */
function clockedStandin(options: StandinOptions = {}): { standin: TwitchStandin; advanceSeconds(seconds: number): void } {
  let nowMs = Date.UTC(2026, 0, 1);
  const standin = createTwitchStandin({ now: () => nowMs, ...options });
  return { standin, advanceSeconds: (seconds) => (nowMs += seconds * 1000) };
}

function postForm(standin: TwitchStandin, path: string, params: Record<string, string>): Promise<Response> {
  return standin.fetch(new Request(`${TWITCH}${path}`, { method: 'POST', body: new URLSearchParams(params) }));
}

function postJson(standin: TwitchStandin, path: string, body: unknown): Promise<Response> {
  return standin.fetch(new Request(`${TWITCH}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }));
}

async function getJson<T>(standin: TwitchStandin, path: string): Promise<T> {
  return (await standin.fetch(new Request(`${TWITCH}${path}`))).json() as Promise<T>;
}

function validate(standin: TwitchStandin, accessToken: string, prefix = 'OAuth'): Promise<Response> {
  return standin.fetch(new Request(`${TWITCH}/oauth2/validate`, { headers: { Authorization: `${prefix} ${accessToken}` } }));
}

function authorizeParams(overrides: Record<string, string> = {}): Record<string, string> {
  return { client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'chat:read user:read:email', state: 'state-123', ...overrides };
}

/** Posts the consent form as if the user clicked "Authorize as ..." and returns the redirect location. */
async function approveAs(standin: TwitchStandin, userId: string, overrides: Record<string, string> = {}): Promise<URL> {
  const response = await postForm(standin, '/oauth2/authorize', { ...authorizeParams(overrides), user_id: userId, decision: 'allow' });
  expect(response.status).toBe(302);
  return new URL(response.headers.get('Location') ?? '');
}

async function codeFor(standin: TwitchStandin, userId: string, overrides: Record<string, string> = {}): Promise<string> {
  return (await approveAs(standin, userId, overrides)).searchParams.get('code') ?? '';
}

function exchangeCode(standin: TwitchStandin, code: string, overrides: Record<string, string> = {}): Promise<Response> {
  return postForm(standin, '/oauth2/token', {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    ...overrides,
  });
}

async function loginAs(standin: TwitchStandin, userId: string, overrides: Record<string, string> = {}): Promise<TokenJson> {
  const response = await exchangeCode(
    standin,
    await codeFor(standin, userId, overrides),
    overrides.redirect_uri ? { redirect_uri: overrides.redirect_uri } : {},
  );
  expect(response.status).toBe(200);
  return response.json() as Promise<TokenJson>;
}

function refresh(standin: TwitchStandin, refreshToken: string): Promise<Response> {
  return postForm(standin, '/oauth2/token', { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'refresh_token', refresh_token: refreshToken });
}

function appToken(standin: TwitchStandin): Promise<Response> {
  return postForm(standin, '/oauth2/token', { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'client_credentials' });
}

describe('authorize: the consent page and its redirects', () => {
  it('shows a consent page clearly labelled as the local stand-in, with a button per test user and a Cancel', async () => {
    const standin = createTwitchStandin();
    const response = await standin.fetch(new Request(`${TWITCH}/oauth2/authorize?${new URLSearchParams(authorizeParams())}`));
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain('LOCAL TWITCH STAND-IN');
    expect(html).toContain('Authorize as streamer_alice');
    expect(html).toContain('Authorize as mod_bob');
    expect(html).toContain('Authorize as viewer_carol');
    expect(html).toContain('Cancel');
    expect(html).toContain('<form method="post" action="/oauth2/authorize">');
    expect(html).toContain('<input type="hidden" name="state" value="state-123">');
    expect(html).toContain('user:read:email');
  });

  it('escapes request parameters echoed into the page', async () => {
    const standin = createTwitchStandin();
    const query = new URLSearchParams(authorizeParams({ state: '"><script>alert(1)</script>' }));
    const html = await (await standin.fetch(new Request(`${TWITCH}/oauth2/authorize?${query}`))).text();
    expect(html).not.toContain('<script>alert(1)</script>');
  });

  it('refuses an unknown client with a 400 JSON body', async () => {
    const standin = createTwitchStandin();
    const response = await standin.fetch(new Request(`${TWITCH}/oauth2/authorize?${new URLSearchParams(authorizeParams({ client_id: 'nope' }))}`));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ status: 400, message: 'invalid client' });
  });

  it('sends the browser back with redirect_mismatch when redirect_uri is not registered', async () => {
    const standin = createTwitchStandin();
    const response = await standin.fetch(
      new Request(`${TWITCH}/oauth2/authorize?${new URLSearchParams(authorizeParams({ redirect_uri: 'http://evil.test/elsewhere' }))}`),
    );
    expect(response.status).toBe(302);
    expect(response.headers.get('Location')).toBe(
      'http://evil.test/elsewhere?error=redirect_mismatch&error_description=Parameter+redirect_uri+does+not+match+registered+URI&state=state-123',
    );
  });

  it('accepts any http(s) /callback URL by default but only exact matches once redirect URIs are registered', async () => {
    const standin = createTwitchStandin();
    expect((await approveAs(standin, ALICE, { redirect_uri: 'http://localhost:8787/callback' })).origin).toBe('http://localhost:8787');
    await postJson(standin, '/_standin/config', { redirectUris: ['https://broker.example/callback'] });
    const refused = await postForm(standin, '/oauth2/authorize', { ...authorizeParams(), user_id: ALICE, decision: 'allow' });
    expect(new URL(refused.headers.get('Location') ?? '').searchParams.get('error')).toBe('redirect_mismatch');
    expect((await approveAs(standin, ALICE, { redirect_uri: 'https://broker.example/callback' })).searchParams.has('code')).toBe(true);
  });

  it('refuses response types other than code', async () => {
    const standin = createTwitchStandin();
    const response = await standin.fetch(new Request(`${TWITCH}/oauth2/authorize?${new URLSearchParams(authorizeParams({ response_type: 'token' }))}`));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ status: 400, message: 'unsupported response_type' });
  });

  it('redirects a Cancel with access_denied and the state', async () => {
    const standin = createTwitchStandin();
    const response = await postForm(standin, '/oauth2/authorize', { ...authorizeParams(), decision: 'deny' });
    expect(response.status).toBe(302);
    expect(response.headers.get('Location')).toBe(
      'http://broker.test/callback?error=access_denied&error_description=The+user+denied+you+access&state=state-123',
    );
  });

  it('redirects an approval with code, plus-separated scope and state', async () => {
    const standin = createTwitchStandin();
    const location = await approveAs(standin, ALICE);
    expect(location.searchParams.get('code')).toMatch(/^[a-z0-9]{30}$/);
    expect(location.search).toContain('&scope=chat%3Aread+user%3Aread%3Aemail&state=state-123');
  });
});

describe('authorize: the "another user" field', () => {
  it('creates a user typed by login, with the next free id, and logs them in', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, 'New_Streamer');
    const validation = (await (await validate(standin, tokens.access_token)).json()) as { user_id: string; login: string };
    expect(validation).toMatchObject({ user_id: '100004', login: 'new_streamer' });
    expect(standin.state.findUser('new_streamer')?.displayName).toBe('New_Streamer');
  });

  it('creates a user typed by id, named user_<id>', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, '424242');
    expect(await (await validate(standin, tokens.access_token)).json()).toMatchObject({ user_id: '424242', login: 'user_424242' });
  });

  it('shows the consent page again with a reason, not a JSON error, for a name Twitch could not have', async () => {
    const standin = createTwitchStandin();
    const response = await postForm(standin, '/oauth2/authorize', { ...authorizeParams(), user_id: 'not a login!', decision: 'allow' });
    expect(response.status).toBe(400);
    expect(response.headers.get('Content-Type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain('is neither a user id');
    expect(html).toContain('<input type="hidden" name="state" value="state-123">');
    expect(html).not.toContain('name="user_id" value="not a login!"');
  });
});

describe('token: authorization_code grant', () => {
  it('exchanges a code for Twitch-shaped user tokens', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, ALICE);
    expect(tokens).toEqual({
      access_token: expect.stringMatching(/^[a-z0-9]{30}$/),
      refresh_token: expect.stringMatching(/^[a-z0-9]{50}$/),
      expires_in: 14400,
      scope: ['chat:read', 'user:read:email'],
      token_type: 'bearer',
    });
  });

  it('accepts a code only once', async () => {
    const standin = createTwitchStandin();
    const code = await codeFor(standin, ALICE);
    expect((await exchangeCode(standin, code)).status).toBe(200);
    const second = await exchangeCode(standin, code);
    expect(second.status).toBe(400);
    expect(await second.json()).toEqual({ status: 400, message: 'Invalid authorization code' });
  });

  it('refuses a code exchanged with a different redirect_uri than the authorize request used', async () => {
    const standin = createTwitchStandin();
    const code = await codeFor(standin, ALICE);
    const response = await exchangeCode(standin, code, { redirect_uri: 'http://localhost:8787/callback' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ status: 400, message: 'Parameter redirect_uri does not match registered URI' });
  });

  it('lets a code expire after ten minutes', async () => {
    const { standin, advanceSeconds } = clockedStandin();
    const code = await codeFor(standin, ALICE);
    advanceSeconds(601);
    expect(await (await exchangeCode(standin, code)).json()).toEqual({ status: 400, message: 'Invalid authorization code' });
  });

  it('answers client and parameter mistakes with Twitch error bodies', async () => {
    const standin = createTwitchStandin();
    const code = await codeFor(standin, ALICE);
    const cases: [Record<string, string>, number, string][] = [
      [{ client_id: 'unknown' }, 400, 'invalid client'],
      [{ client_secret: 'wrong' }, 403, 'invalid client secret'],
      [{ grant_type: 'password' }, 400, 'unsupported grant type'],
      [{ redirect_uri: '' }, 400, 'missing redirect_uri'],
      [{ code: '' }, 400, 'missing code'],
    ];
    for (const [overrides, status, message] of cases) {
      const response = await exchangeCode(standin, code, overrides);
      expect({ status: response.status, body: await response.json() }).toEqual({ status, body: { status, message } });
    }
    // None of the refusals above reached the code, so it still works.
    expect((await exchangeCode(standin, code)).status).toBe(200);
  });
});

describe('token: client_credentials grant', () => {
  it('returns an app token with no refresh token and no scope', async () => {
    const standin = createTwitchStandin();
    const body = await (await appToken(standin)).json();
    expect(body).toEqual({ access_token: expect.stringMatching(/^[a-z0-9]{30}$/), expires_in: 5011271, token_type: 'bearer' });
  });
});

describe('token: refresh_token grant rotates', () => {
  it('returns a new refresh token and the full Twitch shape', async () => {
    const standin = createTwitchStandin();
    const first = await loginAs(standin, ALICE);
    const response = await refresh(standin, first.refresh_token);
    expect(response.status).toBe(200);
    const rotated = (await response.json()) as TokenJson;
    expect(rotated).toEqual({
      access_token: expect.stringMatching(/^[a-z0-9]{30}$/),
      refresh_token: expect.stringMatching(/^[a-z0-9]{50}$/),
      scope: ['chat:read', 'user:read:email'],
      token_type: 'bearer',
      expires_in: 14400,
    });
    expect(rotated.refresh_token).not.toBe(first.refresh_token);
    expect(rotated.access_token).not.toBe(first.access_token);
  });

  it('refuses a spent refresh token with Twitch 400 body and records the reuse', async () => {
    const standin = createTwitchStandin();
    const first = await loginAs(standin, ALICE);
    const rotated = (await (await refresh(standin, first.refresh_token)).json()) as TokenJson;
    const reuse = await refresh(standin, first.refresh_token);
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toEqual({ status: 400, message: 'Invalid refresh token' });
    expect((await refresh(standin, rotated.refresh_token)).status).toBe(200);

    const { reused, attempts } = await getJson<{ reused: string[]; attempts: unknown[] }>(standin, '/_standin/refresh-token-reuse');
    expect(reused).toEqual([first.refresh_token]);
    expect(attempts).toEqual([expect.objectContaining({ refreshToken: first.refresh_token, userId: ALICE, clientId: CLIENT_ID })]);
  });

  it('does not count an unknown refresh token as reuse', async () => {
    const standin = createTwitchStandin();
    expect((await refresh(standin, 'x'.repeat(50))).status).toBe(400);
    expect(await getJson(standin, '/_standin/refresh-token-reuse')).toEqual({ reused: [], attempts: [] });
  });

  it('kills the previous access token on refresh by default, and keeps it when configured not to', async () => {
    const standin = createTwitchStandin();
    const first = await loginAs(standin, ALICE);
    await refresh(standin, first.refresh_token);
    expect((await validate(standin, first.access_token)).status).toBe(401);

    await postJson(standin, '/_standin/config', { refreshRevokesPreviousAccessToken: false });
    const second = await loginAs(standin, BOB);
    await refresh(standin, second.refresh_token);
    expect((await validate(standin, second.access_token)).status).toBe(200);
  });

  it('refuses a refresh token presented by another client', async () => {
    const standin = createTwitchStandin();
    await postJson(standin, '/_standin/clients', { clients: [{ clientId: 'other-client', clientSecret: 'other-secret' }] });
    const tokens = await loginAs(standin, ALICE);
    const response = await postForm(standin, '/oauth2/token', {
      client_id: 'other-client',
      client_secret: 'other-secret',
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(response.status).toBe(400);
  });
});

describe('validate', () => {
  it('describes a user token, with expires_in counting down', async () => {
    const { standin, advanceSeconds } = clockedStandin();
    const tokens = await loginAs(standin, ALICE);
    advanceSeconds(100);
    const response = await validate(standin, tokens.access_token);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      client_id: CLIENT_ID,
      login: 'streamer_alice',
      scopes: ['chat:read', 'user:read:email'],
      user_id: ALICE,
      expires_in: 14300,
    });
  });

  it('accepts both the OAuth and Bearer prefixes', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, ALICE);
    expect((await validate(standin, tokens.access_token, 'OAuth')).status).toBe(200);
    expect((await validate(standin, tokens.access_token, 'Bearer')).status).toBe(200);
  });

  it('describes an app token with null login and user_id and empty scopes', async () => {
    const { standin } = clockedStandin();
    const { access_token } = (await (await appToken(standin)).json()) as { access_token: string };
    expect(await (await validate(standin, access_token)).json()).toEqual({
      client_id: CLIENT_ID,
      login: null,
      scopes: [],
      user_id: null,
      expires_in: 5011271,
    });
  });

  it('answers 401 with Twitch bodies for a missing header and for a bad token', async () => {
    const standin = createTwitchStandin();
    const missing = await standin.fetch(new Request(`${TWITCH}/oauth2/validate`));
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ status: 401, message: 'missing authorization token' });
    const invalid = await validate(standin, 'notarealtoken');
    expect(invalid.status).toBe(401);
    expect(await invalid.json()).toEqual({ status: 401, message: 'invalid access token' });
  });

  it('treats an access token past its lifetime as invalid while its refresh token still works', async () => {
    const { standin, advanceSeconds } = clockedStandin();
    const tokens = await loginAs(standin, ALICE);
    advanceSeconds(14400);
    expect((await validate(standin, tokens.access_token)).status).toBe(401);
    expect((await refresh(standin, tokens.refresh_token)).status).toBe(200);
  });

  it('expires tokens on demand by token, by user and for app tokens', async () => {
    const standin = createTwitchStandin();
    const alice = await loginAs(standin, ALICE);
    const bob = await loginAs(standin, BOB);
    const { access_token: app } = (await (await appToken(standin)).json()) as { access_token: string };

    expect(await (await postJson(standin, '/_standin/expire', { access_token: alice.access_token })).json()).toEqual({ expired: 1 });
    expect((await validate(standin, alice.access_token)).status).toBe(401);
    expect((await validate(standin, bob.access_token)).status).toBe(200);
    await postJson(standin, '/_standin/expire', { user_id: BOB });
    expect((await validate(standin, bob.access_token)).status).toBe(401);
    await postJson(standin, '/_standin/expire', { app: true });
    expect((await validate(standin, app)).status).toBe(401);
    expect((await refresh(standin, alice.refresh_token)).status).toBe(200);
  });
});

describe('revoke', () => {
  it('revokes an access token with an empty 200, after which it no longer validates', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, ALICE);
    const response = await postForm(standin, '/oauth2/revoke', { client_id: CLIENT_ID, token: tokens.access_token });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    expect((await validate(standin, tokens.access_token)).status).toBe(401);
  });

  it('answers 400 Invalid token for a token that is unknown or already revoked', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, ALICE);
    await postForm(standin, '/oauth2/revoke', { client_id: CLIENT_ID, token: tokens.access_token });
    for (const token of [tokens.access_token, 'unknowntoken']) {
      const response = await postForm(standin, '/oauth2/revoke', { client_id: CLIENT_ID, token });
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ status: 400, message: 'Invalid token' });
    }
  });

  it('answers 404 client does not exist for an unknown client', async () => {
    const standin = createTwitchStandin();
    const response = await postForm(standin, '/oauth2/revoke', { client_id: 'nope', token: 'anything' });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ status: 404, message: 'client does not exist' });
  });

  it('revoking a refresh token kills it and its current access token', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, ALICE);
    expect((await postForm(standin, '/oauth2/revoke', { client_id: CLIENT_ID, token: tokens.refresh_token })).status).toBe(200);
    expect((await validate(standin, tokens.access_token)).status).toBe(401);
    expect((await refresh(standin, tokens.refresh_token)).status).toBe(400);
  });
});

describe('parameters arrive from query, urlencoded and multipart alike', () => {
  it('accepts token parameters in the query string of a POST', async () => {
    const standin = createTwitchStandin();
    const query = new URLSearchParams({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'client_credentials' });
    expect((await standin.fetch(new Request(`${TWITCH}/oauth2/token?${query}`, { method: 'POST' }))).status).toBe(200);
  });

  it('accepts a multipart/form-data body', async () => {
    const standin = createTwitchStandin();
    const body = new FormData();
    body.set('client_id', CLIENT_ID);
    body.set('client_secret', CLIENT_SECRET);
    body.set('grant_type', 'client_credentials');
    expect((await standin.fetch(new Request(`${TWITCH}/oauth2/token`, { method: 'POST', body }))).status).toBe(200);
  });

  it('merges the query string with the body', async () => {
    const standin = createTwitchStandin();
    const request = new Request(`${TWITCH}/oauth2/token?client_id=${CLIENT_ID}&grant_type=client_credentials`, {
      method: 'POST',
      body: new URLSearchParams({ client_secret: CLIENT_SECRET }),
    });
    expect((await standin.fetch(request)).status).toBe(200);
  });

  it('names the missing parameter', async () => {
    const standin = createTwitchStandin();
    const response = await postForm(standin, '/oauth2/token', { client_id: CLIENT_ID, grant_type: 'client_credentials' });
    expect(await response.json()).toEqual({ status: 400, message: 'missing client_secret' });
  });
});

describe('faults', () => {
  let standin: TwitchStandin;
  beforeEach(() => {
    standin = createTwitchStandin({ hangTimeoutMs: 200 });
  });

  it('answers a queued 503 once with a Twitch body, then behaves again, and logs both calls', async () => {
    expect(await (await postJson(standin, '/_standin/faults', { path: '/oauth2/token', status: 503 })).json()).toEqual({ queued: 1 });
    const faulted = await appToken(standin);
    expect(faulted.status).toBe(503);
    expect(await faulted.json()).toEqual({ status: 503, message: 'Service Unavailable' });
    expect((await appToken(standin)).status).toBe(200);
    const { calls, counts } = await getJson<{ calls: { status: number; grantType?: string }[]; counts: { token: Record<string, number> } }>(
      standin,
      '/_standin/calls',
    );
    expect(calls.map((call) => [call.grantType, call.status])).toEqual([
      ['client_credentials', 503],
      ['client_credentials', 200],
    ]);
    expect(counts.token.client_credentials).toBe(2);
  });

  it('matches faults by grant type, leaving other grants alone', async () => {
    await postJson(standin, '/_standin/faults', { path: '/oauth2/token', grantType: 'refresh_token', status: 500 });
    const tokens = await loginAs(standin, ALICE);
    expect((await appToken(standin)).status).toBe(200);
    expect((await refresh(standin, tokens.refresh_token)).status).toBe(500);
    // The fault came first, so the refresh token was never spent.
    expect((await refresh(standin, tokens.refresh_token)).status).toBe(200);
  });

  it('drains the rate-limit headers on a 429 fault', async () => {
    await postJson(standin, '/_standin/faults', { status: 429, retryAfterSeconds: 30 });
    const before = Math.floor(Date.now() / 1000);
    const response = await appToken(standin);
    expect(response.status).toBe(429);
    expect(await response.json()).toEqual({ status: 429, message: 'Too Many Requests' });
    expect(response.headers.get('Ratelimit-Remaining')).toBe('0');
    expect(response.headers.get('Ratelimit-Limit')).toBe('800');
    const resetAt = Number(response.headers.get('Ratelimit-Reset'));
    expect(resetAt).toBeGreaterThanOrEqual(before + 30);
    expect(resetAt).toBeLessThanOrEqual(before + 32);
  });

  it('answers garbage with a 200 that is not JSON', async () => {
    await postJson(standin, '/_standin/faults', { kind: 'garbage' });
    const response = await appToken(standin);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('<html>oops');
  });

  it('delays a slow call and then answers it normally', async () => {
    await postJson(standin, '/_standin/faults', { kind: 'slow', delayMs: 150 });
    const startedAt = Date.now();
    expect((await appToken(standin)).status).toBe(200);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
  });

  it('hangs until the hang limit and then gives up with 504', async () => {
    await postJson(standin, '/_standin/faults', { kind: 'hang' });
    const response = await appToken(standin);
    expect(response.status).toBe(504);
  });

  it('stops hanging when the caller aborts', async () => {
    standin = createTwitchStandin({ hangTimeoutMs: 60_000 });
    await postJson(standin, '/_standin/faults', { kind: 'hang', path: '/oauth2/validate' });
    const request = new Request(`${TWITCH}/oauth2/validate`, { headers: { Authorization: 'OAuth x' }, signal: AbortSignal.timeout(50) });
    await expect(standin.fetch(request)).rejects.toMatchObject({ name: 'AbortError' });
    const { calls } = await getJson<{ calls: { status: number }[] }>(standin, '/_standin/calls');
    expect(calls).toEqual([expect.objectContaining({ path: '/oauth2/validate', status: 0 })]);
  });

  it('throws a TypeError like a failed fetch for a connection reset', async () => {
    await postJson(standin, '/_standin/faults', { kind: 'reset' });
    await expect(appToken(standin)).rejects.toThrow(new TypeError('fetch failed: connection reset'));
  });

  it('with phase "after", rotates the refresh token but loses the answer', async () => {
    const tokens = await loginAs(standin, ALICE);
    await postJson(standin, '/_standin/faults', { kind: 'reset', grantType: 'refresh_token', phase: 'after' });
    await expect(refresh(standin, tokens.refresh_token)).rejects.toThrow(TypeError);
    expect((await refresh(standin, tokens.refresh_token)).status).toBe(400);
  });

  it('keeps a times: -1 fault until it is cleared', async () => {
    await postJson(standin, '/_standin/faults', { status: 502, times: -1 });
    expect((await appToken(standin)).status).toBe(502);
    expect((await appToken(standin)).status).toBe(502);
    const cleared = await standin.fetch(new Request(`${TWITCH}/_standin/faults`, { method: 'DELETE' }));
    expect(await cleared.json()).toEqual({ cleared: 1 });
    expect((await appToken(standin)).status).toBe(200);
  });

  it('queues faults in order', async () => {
    await postJson(standin, '/_standin/faults', [{ status: 500 }, { status: 502, times: 2 }]);
    expect([(await appToken(standin)).status, (await appToken(standin)).status, (await appToken(standin)).status, (await appToken(standin)).status]).toEqual([
      500, 502, 502, 200,
    ]);
  });

  it('rejects an unknown fault kind', async () => {
    const response = await postJson(standin, '/_standin/faults', { kind: 'explode' });
    expect(response.status).toBe(400);
  });
});

describe('disconnect', () => {
  it('kills every access and refresh token of that user and no one else', async () => {
    const standin = createTwitchStandin();
    const aliceFirst = await loginAs(standin, ALICE);
    const aliceSecond = await loginAs(standin, ALICE);
    const bob = await loginAs(standin, BOB);
    const response = await postJson(standin, '/_standin/disconnect', { user_id: ALICE });
    expect(await response.json()).toEqual({ revoked: { accessTokens: 2, refreshTokens: 2 } });
    for (const tokens of [aliceFirst, aliceSecond]) {
      expect((await validate(standin, tokens.access_token)).status).toBe(401);
      expect((await refresh(standin, tokens.refresh_token)).status).toBe(400);
    }
    expect((await validate(standin, bob.access_token)).status).toBe(200);
    expect((await refresh(standin, bob.refresh_token)).status).toBe(200);
  });
});

describe('OIDC', () => {
  it('issues an id_token that verifies against /oauth2/keys with the expected claims', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, ALICE, { scope: 'openid user:read:email', nonce: 'nonce-42' });
    expect(tokens.id_token).toBeDefined();
    const jwks = await getJson<JSONWebKeySet>(standin, '/oauth2/keys');
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RS256', kid: '1', use: 'sig', e: 'AQAB' })]);
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token ?? '', createLocalJWKSet(jwks), {
      issuer: 'https://id.twitch.tv/oauth2',
      audience: CLIENT_ID,
    });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: '1' });
    expect(payload).toMatchObject({ sub: ALICE, azp: CLIENT_ID, nonce: 'nonce-42', preferred_username: 'Streamer_Alice' });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
  });

  it('adds requested claims from the claims parameter', async () => {
    const standin = createTwitchStandin();
    const claims = JSON.stringify({ id_token: { email: null, email_verified: null } });
    const tokens = await loginAs(standin, ALICE, { scope: 'openid user:read:email', claims });
    const payload = JSON.parse(Buffer.from((tokens.id_token ?? '').split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ email: 'alice@example.test', email_verified: true });
  });

  it('includes no id_token without the openid scope', async () => {
    const standin = createTwitchStandin();
    expect((await loginAs(standin, ALICE)).id_token).toBeUndefined();
  });

  it('publishes discovery with endpoints on the request origin and the configured issuer', async () => {
    const standin = createTwitchStandin({ issuer: 'http://localhost:8789/oauth2' });
    const response = await standin.fetch(new Request('http://localhost:8789/oauth2/.well-known/openid-configuration'));
    expect(await response.json()).toMatchObject({
      issuer: 'http://localhost:8789/oauth2',
      authorization_endpoint: 'http://localhost:8789/oauth2/authorize',
      token_endpoint: 'http://localhost:8789/oauth2/token',
      userinfo_endpoint: 'http://localhost:8789/oauth2/userinfo',
      jwks_uri: 'http://localhost:8789/oauth2/keys',
      id_token_signing_alg_values_supported: ['RS256'],
      claims_parameter_supported: true,
    });
  });

  it('answers userinfo for a bearer token', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, ALICE, { scope: 'openid user:read:email' });
    const response = await standin.fetch(new Request(`${TWITCH}/oauth2/userinfo`, { headers: { Authorization: `Bearer ${tokens.access_token}` } }));
    expect(await response.json()).toMatchObject({ sub: ALICE, preferred_username: 'Streamer_Alice', email: 'alice@example.test', aud: CLIENT_ID });
  });
});

describe('control endpoints', () => {
  it('seeds users in bulk and grants for them without the browser flow', async () => {
    const standin = createTwitchStandin();
    expect(await (await postJson(standin, '/_standin/users/bulk', { count: 1000, startId: 500000 })).json()).toEqual({
      added: 1000,
      firstId: '500000',
      lastId: '500999',
    });
    const single = (await (await postJson(standin, '/_standin/grants', { user_id: '500123', scopes: ['chat:read'] })).json()) as TokenJson;
    expect(single).toMatchObject({ expires_in: 14400, scope: ['chat:read'] });
    expect(await (await validate(standin, single.access_token)).json()).toMatchObject({ login: 'user_500123', user_id: '500123' });

    const batch = (await (await postJson(standin, '/_standin/grants', { user_ids: ['500000', '500001'], scopes: [] })).json()) as {
      grants: { user_id: string }[];
    };
    expect(batch.grants.map((grant) => grant.user_id)).toEqual(['500000', '500001']);
    expect((await postJson(standin, '/_standin/grants', { user_id: 'nobody', scopes: [] })).status).toBe(404);
  });

  it('adds users who can then log in', async () => {
    const standin = createTwitchStandin();
    await postJson(standin, '/_standin/users', { users: [{ id: '424242', login: 'New_Person' }] });
    const tokens = await loginAs(standin, '424242');
    expect(await (await validate(standin, tokens.access_token)).json()).toMatchObject({ login: 'new_person' });
  });

  it('lists every secret it issued, including the client secret', async () => {
    const standin = createTwitchStandin();
    const code = await codeFor(standin, ALICE);
    const tokens = (await (await exchangeCode(standin, code)).json()) as TokenJson;
    const { secrets } = await getJson<{ secrets: string[] }>(standin, '/_standin/secrets');
    expect(secrets).toEqual(expect.arrayContaining([CLIENT_SECRET, code, tokens.access_token, tokens.refresh_token]));
  });

  it('reset forgets tokens, faults and calls and restores config', async () => {
    const standin = createTwitchStandin();
    const tokens = await loginAs(standin, ALICE);
    await postJson(standin, '/_standin/faults', { status: 500, times: -1, path: '/oauth2/revoke' });
    await postJson(standin, '/_standin/config', { userAccessTokenTtlSeconds: 5 });
    await postJson(standin, '/_standin/reset', {});
    expect((await validate(standin, tokens.access_token)).status).toBe(401);
    expect(await getJson(standin, '/_standin/faults')).toEqual({ faults: [] });
    const { calls } = await getJson<{ calls: unknown[] }>(standin, '/_standin/calls');
    expect(calls).toHaveLength(1); // only the validate above
    expect((await loginAs(standin, ALICE)).expires_in).toBe(14400);
  });

  it('counts calls per endpoint and grant', async () => {
    const standin = createTwitchStandin();
    await standin.fetch(new Request(`${TWITCH}/oauth2/authorize?${new URLSearchParams(authorizeParams())}`));
    const tokens = await loginAs(standin, ALICE);
    await refresh(standin, tokens.refresh_token);
    await appToken(standin);
    await validate(standin, tokens.access_token);
    await postForm(standin, '/oauth2/revoke', { client_id: CLIENT_ID, token: tokens.access_token });
    const { counts } = await getJson<{ counts: unknown }>(standin, '/_standin/calls');
    expect(counts).toEqual({
      authorize: 1,
      token: { authorization_code: 1, client_credentials: 1, refresh_token: 1 },
      validate: 1,
      revoke: 1,
      other: 1, // the consent POST
    });
  });

  it('puts rate-limit headers on every response and spends the bucket on /oauth2 calls', async () => {
    const { standin } = clockedStandin();
    const first = await validate(standin, 'x');
    const second = await validate(standin, 'x');
    expect(first.headers.get('Ratelimit-Limit')).toBe('800');
    expect(Number(second.headers.get('Ratelimit-Remaining'))).toBeLessThan(Number(first.headers.get('Ratelimit-Remaining')));
    expect((await standin.fetch(new Request(`${TWITCH}/`))).headers.get('Ratelimit-Limit')).toBe('800');
  });
});

describe('Node server host', () => {
  let running: RunningStandinServer;
  beforeEach(async () => {
    running = await startTwitchStandinServer({ port: 0 });
  });
  afterEach(async () => {
    await running.close();
  });

  it('serves the whole login, validate and refresh flow over real HTTP', async () => {
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${running.url}/oauth2/authorize?${new URLSearchParams(authorizeParams())}`);
    expect(await page.text()).toContain('LOCAL TWITCH STAND-IN');
    const approval = await fetch(`${running.url}/oauth2/authorize`, {
      method: 'POST',
      body: new URLSearchParams({ ...authorizeParams(), user_id: ALICE, decision: 'allow' }),
      redirect: 'manual',
    });
    const code = new URL(approval.headers.get('Location') ?? '').searchParams.get('code') ?? '';
    const tokenResponse = await fetch(`${running.url}/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
    });
    const tokens = (await tokenResponse.json()) as TokenJson;
    expect(tokenResponse.headers.get('Ratelimit-Limit')).toBe('800');
    const validation = await fetch(`${running.url}/oauth2/validate`, { headers: { Authorization: `OAuth ${tokens.access_token}` } });
    expect(await validation.json()).toMatchObject({ user_id: ALICE });
    const multipart = new FormData();
    multipart.set('client_id', CLIENT_ID);
    multipart.set('client_secret', CLIENT_SECRET);
    multipart.set('grant_type', 'refresh_token');
    multipart.set('refresh_token', tokens.refresh_token);
    expect((await fetch(`${running.url}/oauth2/token`, { method: 'POST', body: multipart })).status).toBe(200);
  });

  it('drops the socket for a reset fault, so the client sees a network error', async () => {
    await fetch(`${running.url}/_standin/faults`, { method: 'POST', body: JSON.stringify({ kind: 'reset' }) });
    await expect(fetch(`${running.url}/oauth2/validate`)).rejects.toThrow(TypeError);
    expect((await fetch(`${running.url}/oauth2/validate`)).status).toBe(401);
  });

  it('stops hanging when the HTTP client goes away, and logs the call as unanswered', async () => {
    await fetch(`${running.url}/_standin/faults`, { method: 'POST', body: JSON.stringify({ kind: 'hang', path: '/oauth2/validate' }) });
    await expect(fetch(`${running.url}/oauth2/validate`, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect.poll(() => running.standin.state.calls.summary().calls.map((call) => call.status), { timeout: 2000 }).toEqual([0]);
  });

  it('closes promptly even while a request hangs', async () => {
    await fetch(`${running.url}/_standin/faults`, { method: 'POST', body: JSON.stringify({ kind: 'hang' }) });
    const hanging = fetch(`${running.url}/oauth2/validate`).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const startedAt = Date.now();
    await running.close();
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(await hanging).toBeInstanceOf(TypeError);
    running = await startTwitchStandinServer({ port: 0 });
  });
});

describe('state file (npm start keeps the stand-in across restarts)', () => {
  it('still accepts, refreshes and revokes tokens it issued before a restart, and remembers created users', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'standin-state-'));
    const stateFile = join(folder, 'twitch-standin.json');
    try {
      const before = await startTwitchStandinServer({ port: 0, stateFile });
      const tokens = await loginAs(before.standin, 'typed_user');
      await before.close();
      await before.close(); // a second close (Ctrl-C while the broker exits) is harmless
      expect(statSync(stateFile).mode & 0o777).toBe(0o600);

      const after = await startTwitchStandinServer({ port: 0, stateFile });
      try {
        expect((await fetch(`${after.url}/oauth2/validate`, { headers: { Authorization: `OAuth ${tokens.access_token}` } })).status).toBe(200);
        expect(after.standin.state.findUser('typed_user')).toBeDefined();
        const refreshed = await fetch(`${after.url}/oauth2/token`, {
          method: 'POST',
          body: new URLSearchParams({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
        });
        expect(refreshed.status).toBe(200);
        // A rotation made after the restart is saved too: the old refresh token stays spent next time.
      } finally {
        await after.close();
      }
      const third = await startTwitchStandinServer({ port: 0, stateFile });
      try {
        const reused = await fetch(`${third.url}/oauth2/token`, {
          method: 'POST',
          body: new URLSearchParams({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
        });
        expect(reused.status).toBe(400);
      } finally {
        await third.close();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('inside miniflare as the Worker outboundService', () => {
  // A Worker that asks "Twitch" for an app token and reports what its fetch saw.
  const workerScript = `export default { async fetch() {
    try {
      const response = await fetch('https://id.twitch.tv/oauth2/token?client_id=${CLIENT_ID}&grant_type=client_credentials', {
        method: 'POST',
        body: new URLSearchParams({ client_secret: '${CLIENT_SECRET}' }),
      });
      return Response.json({ status: response.status, body: await response.text() });
    } catch (error) {
      return Response.json({ threw: String(error) });
    }
  } }`;
  let miniflare: Miniflare | undefined;
  afterEach(async () => {
    await miniflare?.dispose();
    miniflare = undefined;
  });

  interface WorkerView {
    status?: number;
    body?: string;
    threw?: string;
  }

  function startWorker(outboundService: MiniflareOptions['outboundService']): void {
    miniflare = new Miniflare({ modules: true, script: workerScript, compatibilityDate: '2025-01-01', outboundService });
  }

  async function askWorker(): Promise<WorkerView> {
    if (miniflare === undefined) throw new Error('start the worker first');
    return (await (await miniflare.dispatchFetch('http://worker.test/')).json()) as WorkerView;
  }

  it("answers the Worker's calls to id.twitch.tv through the fetch-function form", async () => {
    const standin = createTwitchStandin();
    startWorker((request: Request) => standin.fetch(request));
    const seen = await askWorker();
    expect(seen.status).toBe(200);
    expect(JSON.parse(seen.body ?? '')).toMatchObject({ token_type: 'bearer' });
  });

  it('a reset through the fetch-function form reaches the Worker as a miniflare 500, not a network error', async () => {
    const standin = createTwitchStandin();
    await postJson(standin, '/_standin/faults', { kind: 'reset' });
    startWorker((request: Request) => standin.fetch(request));
    const seen = await askWorker();
    expect(seen.status).toBe(500);
    expect(seen.body).toContain('fetch failed: connection reset');
  });

  it('a reset through the node-listener form reaches the Worker as a lost connection', async () => {
    const standin = createTwitchStandin();
    await postJson(standin, '/_standin/faults', { kind: 'reset' });
    startWorker({ node: createStandinNodeListener(standin) });
    expect((await askWorker()).threw).toContain('Network connection lost');
    expect((await askWorker()).status).toBe(200);
  });
});
