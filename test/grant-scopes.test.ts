import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import type { Env } from '../src/env';
import { API_KEY, APP_ORIGIN, TWITCH } from './test-bindings';
import { broker, consent, CookieJar, json, login, startLogin } from './support/broker';
import { abortEveryObject, freshStateForEachTest } from './support/reset';
import { pairIsAlive, seedGrantOfAnotherUser } from './support/seed';
import { twitch } from './support/twitch';

freshStateForEachTest();

interface TokenBody {
  access_token: string;
  scopes: string[];
}

const userToken = async (userId: string) => json<TokenBody>(await broker(`/token/users/${userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } }));

/** What Twitch itself says about an access token: 200 alive, 401 dead. */
const statusAtTwitch = async (accessToken: string) => (await fetch(`${TWITCH}/oauth2/validate`, { headers: { Authorization: `OAuth ${accessToken}` } })).status;

const vault = (userId: string) => env.USER_VAULT.get(env.USER_VAULT.idFromName(userId));

/**
 * Gives a call that the stand-in holds for 3 s time to reach it. (The stand-in logs a call when it
 * answers, so there is nothing to poll for while it is held.)
 */
const whileTwitchIsSlow = () => new Promise((resolve) => setTimeout(resolve, 500));

/** Polls until the vault's off-response-path work (its alarm) has reached Twitch. */
const eventually = (assertion: () => Promise<void>) => vi.waitFor(assertion, { timeout: 10_000, interval: 100 });

describe('a login never silently narrows a stored grant (login CSRF)', () => {
  it('keeps the stored grant when a login lacks one of its scopes, revokes the new tokens, and still signs the browser in', async () => {
    await login({ userId: '100001', scope: 'chat:read chat:edit' });
    const before = await userToken('100001');
    const issuedBefore = new Set(await twitch.secrets());

    // A hostile page walks the victim's browser (no broker session there) through a narrower login;
    // Twitch sends an already-authorized user straight back without asking.
    const { jar, location } = await login({ userId: '100001', scope: 'user:read:email' });
    expect(location!.searchParams.has('error')).toBe(false);
    expect(jar.sessionCookie).toBeDefined();

    const after = await userToken('100001');
    expect(after.scopes).toEqual(expect.arrayContaining(['chat:read', 'chat:edit']));
    expect(after.access_token).toBe(before.access_token);
    // The narrower pair is revoked at Twitch (both tokens), off the response path; the kept one lives.
    await eventually(async () => expect((await twitch.counts()).revoke).toBe(2));
    expect(await statusAtTwitch(before.access_token)).toBe(200);
    const narrower = (await twitch.secrets()).filter((secret) => !issuedBefore.has(secret));
    expect(narrower.length).toBeGreaterThanOrEqual(2);
    for (const secret of narrower) expect(await statusAtTwitch(secret)).toBe(401);

    const events = await json<{ events: { event: string }[] }>(await broker('/admin/users/100001/events', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    expect(events.events.map((entry) => entry.event)).toContain('login_kept_grant');
  });

  it('lets a narrower login replace a stored grant that Twitch already killed (e.g. after a password change)', async () => {
    await login({ userId: '100001', scope: 'chat:read chat:edit' });
    const dead = await userToken('100001');
    await twitch.expire({ access_token: dead.access_token });
    // An hour on: the grant is no longer known to be alive without asking Twitch.
    await runInDurableObject(vault('100001'), async (_instance, ctx) => {
      const record = await ctx.storage.get<{ grant: { lastValidatedAt: number } }>('user');
      await ctx.storage.put('user', { ...record, grant: { ...record!.grant, lastValidatedAt: Date.now() - 3_600_000 } });
    });
    await abortEveryObject();

    await login({ userId: '100001', scope: 'user:read:email' });
    const replaced = await userToken('100001');
    expect(replaced.access_token).not.toBe(dead.access_token);
    expect(replaced.scopes).toContain('user:read:email');
  });

  it('lets a narrower login replace a stored grant whose token Twitch says is another user’s, and revokes that pair', async () => {
    // Stored ten minutes ago (scope user:read:email), so no longer known alive without asking Twitch.
    const others = await seedGrantOfAnotherUser('100001', 'streamer_alice', '100002', 10 * 60_000);

    await login({ userId: '100001', scope: 'chat:read' });
    const replaced = await userToken('100001');
    expect(replaced.access_token).not.toBe(others.access_token);
    expect(replaced.scopes).toContain('chat:read');
    await runDurableObjectAlarm(vault('100001'));
    expect(await pairIsAlive(others)).toBe(false);
  });

  it('replaces the stored grant when the new login carries every stored scope', async () => {
    await login({ userId: '100001', scope: 'chat:read' });
    const before = await userToken('100001');
    await login({ userId: '100001', scope: 'chat:read chat:edit' });
    const after = await userToken('100001');
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.scopes).toEqual(expect.arrayContaining(['chat:read', 'chat:edit']));
  });

  it('asks Twitch for the requested and the stored scopes together when the browser already has a session', async () => {
    const { jar } = await login({ userId: '100001', scope: 'chat:read chat:edit' });
    const twitchUrl = await startLogin(jar, { scope: 'user:read:email' });
    expect(twitchUrl.searchParams.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['user:read:email', 'chat:read', 'chat:edit']));
  });

  it('asks for the requested scopes only when the browser has no session', async () => {
    await login({ userId: '100001', scope: 'chat:read chat:edit' });
    const twitchUrl = await startLogin(new CookieJar(), { scope: 'user:read:email' });
    expect(twitchUrl.searchParams.get('scope')!.split(' ')).not.toContain('chat:edit');
  });
});

describe('replaced grants are revoked at Twitch', () => {
  it('revokes the previous access and refresh token after a re-login, off the response path', async () => {
    await login({ userId: '100001' });
    const first = await userToken('100001');
    await login({ userId: '100001' });
    const second = await userToken('100001');
    expect(second.access_token).not.toBe(first.access_token);

    await eventually(async () => expect(await statusAtTwitch(first.access_token)).toBe(401));
    expect((await twitch.counts()).revoke).toBe(2);
    expect(await statusAtTwitch(second.access_token)).toBe(200);
  });

  it('retries the revocation later when Twitch is down, and never touches the new grant', async () => {
    await login({ userId: '100001' });
    const first = await userToken('100001');
    await twitch.inject({ path: '/oauth2/revoke', status: 503, times: -1 });
    await login({ userId: '100001' });
    await eventually(async () => expect((await twitch.counts()).revoke).toBeGreaterThan(0));
    expect(await statusAtTwitch(first.access_token)).toBe(200);

    await twitch.clearFaults();
    await eventually(async () => {
      await runDurableObjectAlarm(vault('100001')); // the retry, brought forward
      expect(await statusAtTwitch(first.access_token)).toBe(401);
    });
    const second = await userToken('100001');
    expect(await statusAtTwitch(second.access_token)).toBe(200);
  });
});

describe('ALLOWED_SCOPES', () => {
  const authorizeWith = (overrides: Partial<Env>, query: string) =>
    broker(`/authorize?return_to=${encodeURIComponent(APP_ORIGIN)}&${query}`, { headers: { 'CF-Connecting-IP': '192.0.2.7' } }, {
      ...env,
      ...overrides,
    } as Env);

  it('refuses a scope outside the list with 400 invalid_scope, naming it', async () => {
    const response = await authorizeWith({ ALLOWED_SCOPES: 'chat:read chat:edit user:read:email' }, 'scope=chat:read+channel:manage:broadcast');
    expect(response.status).toBe(400);
    const body = await json<{ error: string; error_description: string }>(response);
    expect(body.error).toBe('invalid_scope');
    expect(body.error_description).toContain('channel:manage:broadcast');
  });

  it('lets listed scopes through', async () => {
    const response = await authorizeWith({ ALLOWED_SCOPES: 'chat:read chat:edit user:read:email' }, 'scope=chat:read+chat:edit');
    expect(response.status).toBe(302);
  });

  it('allows any scope when unset', async () => {
    expect((await authorizeWith({}, 'scope=channel:manage:broadcast')).status).toBe(302);
  });

  it("refuses a grant carrying a scope the user added on Twitch's page, and revokes it", async () => {
    const restricted = { ...env, ALLOWED_SCOPES: 'chat:read user:read:email' } as Env;
    const jar = new CookieJar();
    const started = await jar.fetch(`/authorize?scope=chat:read&return_to=${encodeURIComponent(APP_ORIGIN)}`, {}, restricted);
    const twitchUrl = new URL(started.headers.get('Location')!);
    twitchUrl.searchParams.set('scope', `${twitchUrl.searchParams.get('scope')} channel:manage:broadcast`);
    const callbackUrl = await consent(twitchUrl, '100001');
    const back = await jar.fetch(`${callbackUrl.pathname}${callbackUrl.search}`, {}, restricted);
    expect(new URL(back.headers.get('Location')!).searchParams.get('error')).toBe('invalid_scope');
    expect(jar.sessionCookie).toBeUndefined();
    expect((await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(404);
    await eventually(async () => expect((await twitch.counts()).revoke).toBe(2));
  });
});

describe('ALLOWED_SCOPES with openid', () => {
  it('accepts openid in DEFAULT_SCOPES though ALLOWED_SCOPES does not list it (every login asks for it anyway)', async () => {
    const bindings = { ...env, DEFAULT_SCOPES: 'openid chat:read', ALLOWED_SCOPES: 'chat:read' } as Env;
    const response = await broker(`/authorize?return_to=${encodeURIComponent(APP_ORIGIN)}`, {}, bindings);
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('Location')!).searchParams.get('scope')!.split(' ').sort()).toEqual(['chat:read', 'openid']);
    expect((await json<{ problems: string[] }>(await broker('/health', {}, bindings))).problems).toEqual([]);
  });
});

describe('grant generations', () => {
  it('replaces the pair a refresh stored while a narrower login was checking the old grant with Twitch', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 1 });
    await login({ userId: '100001', scope: 'chat:read chat:edit' });
    await twitch.configure({ userAccessTokenTtlSeconds: 14_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // expired: the login must ask Twitch whether it lives
    // The login route's own validate answers at once; the vault's check of the stored grant is slow.
    await twitch.inject({ path: '/oauth2/validate', kind: 'slow', delayMs: 0, times: 1 });
    await twitch.inject({ path: '/oauth2/validate', kind: 'slow', delayMs: 1_500, times: 1 });
    const narrower = login({ userId: '100001', scope: 'chat:read' });
    await whileTwitchIsSlow();
    // Meanwhile a backend's request refreshes the stored grant: a new pair, stored first.
    const refreshed = await userToken('100001');
    expect(refreshed.scopes).toContain('chat:edit');
    await narrower;

    // The login's pair is the user's token now, served as stored, and the pair the refresh stored is revoked.
    const now = await userToken('100001');
    expect(now.scopes).not.toContain('chat:edit');
    expect(now.access_token).not.toBe(refreshed.access_token);
    const atTwitch = await fetch(`${TWITCH}/oauth2/validate`, { headers: { Authorization: `OAuth ${now.access_token}` } });
    expect((await json<{ scopes: string[] }>(atTwitch)).scopes).not.toContain('chat:edit');
    await eventually(async () => expect(await statusAtTwitch(refreshed.access_token)).toBe(401));
  });

  it('never lets a refresh that was in flight across a logout and a new login overwrite the new grant', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 120 }); // inside the serve margin: the next /token refreshes
    const { jar } = await login({ userId: '100001' });
    // Twitch rotates the old pair at once but answers late: the logout and the new login happen meanwhile.
    await twitch.inject({ path: '/oauth2/token', grantType: 'refresh_token', kind: 'slow', phase: 'after', delayMs: 3000 });
    const inFlight = broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } });
    await whileTwitchIsSlow();
    await twitch.configure({ userAccessTokenTtlSeconds: 14_000 });
    expect((await jar.fetch('/logout', { method: 'POST', headers: { Origin: APP_ORIGIN } })).status).toBe(200);
    const { jar: again } = await login({ userId: '100001' });
    const fresh = await json<TokenBody>(await again.fetch('/token'));
    await inFlight;

    // The logged-out grant's late refresh is not the user's token now: the new login's is.
    const now = await userToken('100001');
    expect(now.access_token).toBe(fresh.access_token);
    expect(await statusAtTwitch(now.access_token)).toBe(200);
  });
});
