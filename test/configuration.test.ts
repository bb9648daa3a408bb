import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../src/index';
import type { Env } from '../src/env';
import { API_KEY, BROKER, TEST_BINDINGS, USERS_ONLY_API_KEY } from './test-bindings';
import { freshStateForEachTest } from './support/reset';

freshStateForEachTest();

/** Calls the Worker's entry point with some settings replaced. */
async function fetchWith(overrides: Partial<Env>, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${BROKER}${path}`, init), { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe('configuration', () => {
  it('GET /health answers 200 JSON and names missing settings without their values', async () => {
    const complete = await fetchWith({}, '/health');
    expect(complete.status).toBe(200);
    expect(await complete.json()).toEqual({
      status: 'ok',
      client_id: 'standin-client-id',
      configuration: 'complete',
      problems: [],
      eventsub: { enabled: false, reason: 'EVENTSUB_SECRET is not set' },
    });

    const broken = await fetchWith({ TWITCH_CLIENT_SECRET: undefined, TOKEN_ENCRYPTION_KEY: 'short' }, '/health');
    expect(broken.status).toBe(200);
    expect(await broken.json()).toMatchObject({ configuration: 'incomplete', problems: ['TWITCH_CLIENT_SECRET', 'TOKEN_ENCRYPTION_KEY'] });
  });

  it.each([
    ['TWITCH_CLIENT_ID', { TWITCH_CLIENT_ID: '' }, '/authorize'],
    ['TOKEN_ENCRYPTION_KEY', { TOKEN_ENCRYPTION_KEY: 'bm90LTMyLWJ5dGVz' }, '/token/app'],
    ['SESSION_SECRET', { SESSION_SECRET: 'too-short' }, '/token'],
    ['SESSION_SECRET', { SESSION_SECRET: 'x'.repeat(64) }, '/token'],
    ['SESSION_SECRET', { SESSION_SECRET: 'password'.repeat(6) }, '/token'],
    ['API_KEYS', { API_KEYS: '' }, '/token/app'],
    ['API_KEYS', { API_KEYS: 'a-plain-key-is-not-accepted-0123456789' }, '/token/app'],
    ['ALLOWED_ORIGINS', { ALLOWED_ORIGINS: 'not a url' }, '/authorize?return_to=https://app.example.com/'],
  ])('a broken %s gives a clear error naming it, with no value and no stack', async (name, overrides, path) => {
    const response = await fetchWith(overrides, path, { headers: { Authorization: `Bearer ${API_KEY}`, Cookie: '__Host-ttb_session=x' } });
    expect(response.status).toBe(500);
    const body = await response.json<{ error: string; error_description: string }>();
    expect(body.error).toBe('server_misconfigured');
    expect(body.error_description).toContain(name);
    expect(body.error_description).not.toMatch(/\bat\s+\S+:\d+/); // no stack frames
    for (const value of Object.values(overrides)) if (value) expect(body.error_description).not.toContain(value);
    for (const secret of [TEST_BINDINGS.SESSION_SECRET, TEST_BINDINGS.TWITCH_CLIENT_SECRET, API_KEY]) {
      expect(JSON.stringify(body)).not.toContain(secret);
    }
  });

  it('the cron logs one clear line about a missing secret instead of throwing', async () => {
    const log = vi.spyOn(console, 'log');
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '0 * * * *' }), { ...env, TWITCH_CLIENT_SECRET: undefined } as Env, ctx);
    await waitOnExecutionContext(ctx);
    const lines = log.mock.calls.map((call) => String(call[0])).filter((line) => line.includes('sweep'));
    log.mockRestore();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('TWITCH_CLIENT_SECRET');
  });

  it('answers a known route with the wrong method with a JSON 405 and Allow', async () => {
    const response = await fetchWith({}, '/token', { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('Allow')).toContain('GET');
    expect(await response.json()).toMatchObject({ error: 'method_not_allowed' });
  });

  it.each([
    ['a success', '/health', 200],
    ['an error', '/token', 401],
    ['a 404', '/nope', 404],
    ['a 405', '/health', 405],
  ])('puts security headers on %s', async (_name, path, status) => {
    const response = await fetchWith({}, path, { method: status === 405 ? 'POST' : 'GET' });
    expect(response.status).toBe(status);
    expect(response.headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(response.headers.get('X-Frame-Options')).toBe('SAMEORIGIN');
    expect(response.headers.get('Strict-Transport-Security')).toMatch(/max-age=/);
  });

  it.each([
    ['http on a public host', 'http://id.twitch.example', false],
    ['http on localhost', 'http://localhost:8789', true],
    ['http on 127.0.0.1', 'http://127.0.0.1:8789', true],
    ['http on [::1]', 'http://[::1]:8789', true],
    ['https', 'https://id.twitch.example', true],
  ])('accepts Twitch base URLs over %s: %s', async (_name, url, accepted) => {
    const health = await (await fetchWith({ TWITCH_AUTH_BASE_URL: url, TWITCH_API_BASE_URL: url }, '/health')).json<{ problems: string[] }>();
    if (accepted) expect(health.problems).toEqual([]);
    else expect(health.problems).toEqual(['TWITCH_AUTH_BASE_URL', 'TWITCH_API_BASE_URL']);
  });

  it.each([
    ['shorter than 10 characters', 'short'],
    ['longer than 100', 'x1'.repeat(51)],
    ['with a space', 'has a space in it'],
  ])('names an EVENTSUB_SECRET %s in /health (Twitch refuses it)', async (_name, secret) => {
    const health = await (await fetchWith({ EVENTSUB_SECRET: secret }, '/health')).json<{ problems: string[]; eventsub: { enabled: boolean } }>();
    expect(health.problems).toEqual(['EVENTSUB_SECRET']);
    expect(health.eventsub.enabled).toBe(false);
    expect(JSON.stringify(health)).not.toContain(secret);
  });

  it.each([
    ['a NOTIFY_URL without NOTIFY_SECRET', { NOTIFY_SECRET: undefined }, ['NOTIFY_SECRET']],
    ['a short NOTIFY_SECRET', { NOTIFY_SECRET: 'short' }, ['NOTIFY_SECRET']],
    ['a NOTIFY_URL over plain http on a public host', { NOTIFY_URL: 'http://app.example.com/hooks' }, ['NOTIFY_URL']],
  ])('names %s in /health', async (_name, overrides, problems) => {
    const health = await (await fetchWith(overrides, '/health')).json<{ problems: string[] }>();
    expect(health.problems).toEqual(problems);
  });

  it.each(['0', '1001', '2.5', '-3', '1e2', 'many'])(
    'refuses LIVE_TOKEN_MAX_SOCKETS=%s: /health names it, the live route answers 500 naming it',
    async (value) => {
      const health = await (await fetchWith({ LIVE_TOKEN_MAX_SOCKETS: value }, '/health')).json<{ problems: string[] }>();
      expect(health.problems).toEqual(['LIVE_TOKEN_MAX_SOCKETS']);
      const live = await fetchWith({ LIVE_TOKEN_MAX_SOCKETS: value }, '/token/users/100001/live', {
        headers: { Upgrade: 'websocket', Authorization: `Bearer ${USERS_ONLY_API_KEY}` },
      });
      expect(live.status).toBe(500);
      expect(await live.json()).toEqual({ error: 'server_misconfigured', error_description: 'LIVE_TOKEN_MAX_SOCKETS must be a whole number from 1 to 1000' });
    },
  );

  it.each(['1', '1000', ' 5 ', ''])('accepts LIVE_TOKEN_MAX_SOCKETS=%j (empty: the default, 32)', async (value) => {
    const health = await (await fetchWith({ LIVE_TOKEN_MAX_SOCKETS: value }, '/health')).json<{ problems: string[] }>();
    expect(health.problems).toEqual([]);
  });

  it('accepts a random SESSION_SECRET of 32 characters', async () => {
    const secret = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
    const health = await (await fetchWith({ SESSION_SECRET: secret }, '/health')).json<{ problems: string[] }>();
    expect(health.problems).toEqual([]);
  });

  it('lets allowed origins read Retry-After on CORS responses', async () => {
    const response = await fetchWith({}, '/token', { headers: { Origin: 'https://app.example.com' } });
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example.com');
    expect(response.headers.get('Access-Control-Expose-Headers')?.split(/,\s*/)).toContain('Retry-After');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await fetchWith({}, '/nope');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });
});
