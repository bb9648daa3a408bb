import { describe, expect, it } from 'vitest';
import { deviceAuthorizedBody, type DeviceStartedBody } from '../src/openapi/bodies';
import { API_KEY, APP_ONLY_API_KEY } from './test-bindings';
import { broker, json } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const post = (path: string, body: unknown, key = API_KEY) =>
  broker(path, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

const start = async (scope = 'chat:read chat:edit') => {
  const response = await post('/device', { scope });
  expect(response.status).toBe(200);
  return json<DeviceStartedBody>(response);
};

const poll = (pollToken: string) => post('/device/poll', { poll_token: pollToken });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const devicePolls = async () => (await twitch.counts()).token[DEVICE_GRANT as 'refresh_token'] ?? 0;

describe('the device code flow for headless bots', () => {
  it('logs a bot in: code and URL to show, pending until approved, then stored like any login', async () => {
    await twitch.device.configure({ interval: 1 });
    const started = await start();
    expect(started).toEqual({
      user_code: expect.stringMatching(/^[A-Z]{8}$/),
      verification_uri: expect.stringContaining(started.user_code),
      expires_in: expect.any(Number),
      interval: 1,
      poll_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(Object.keys(started)).not.toContain('device_code');

    const pending = await poll(started.poll_token);
    expect(pending.status).toBe(400);
    expect(await json(pending)).toMatchObject({ error: 'authorization_pending' });

    await twitch.device.approve(started.user_code, '100001');
    await sleep(1_100);
    const done = await poll(started.poll_token);
    expect(done.status).toBe(200);
    expect(await json(done)).toEqual({ user_id: '100001', login: 'streamer_alice', scopes: ['chat:read', 'chat:edit'] });

    const token = await broker('/token/users/100001?scope=chat:edit', { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(token.status).toBe(200);
    // The login is over: the poll token names nothing any more.
    expect(await json(await poll(started.poll_token))).toMatchObject({ error: 'expired_token' });
  });

  it('says when the stored grant was kept: its scopes, and an authorize_url asking for them and the new ones', async () => {
    await twitch.device.configure({ interval: 1 });
    const first = await start('chat:read chat:edit');
    await twitch.device.approve(first.user_code, '100001');
    await sleep(1_100);
    expect((await poll(first.poll_token)).status).toBe(200);

    // A later login lacking chat:edit must not narrow the bot's grant.
    const narrower = await start('chat:read moderator:read:chatters');
    await twitch.device.approve(narrower.user_code, '100001');
    await sleep(1_100);
    const kept = await poll(narrower.poll_token);
    expect(kept.status).toBe(200);
    const body = await json<{ authorize_url: string }>(kept);
    expect(body).toEqual({
      user_id: '100001',
      login: 'streamer_alice',
      scopes: ['chat:read', 'moderator:read:chatters'],
      grant_kept: true,
      stored_scopes: ['chat:read', 'chat:edit'],
      authorize_url: expect.stringMatching(/^http.*\/authorize\?scope=/),
    });
    expect(new URL(body.authorize_url).searchParams.get('scope')!.split(' ').sort()).toEqual(['chat:edit', 'chat:read', 'moderator:read:chatters']);
    // /openapi.json documents every field a client reads here.
    expect(Object.keys(deviceAuthorizedBody.shape)).toEqual(expect.arrayContaining(Object.keys(body)));

    const token = await json<{ scopes: string[] }>(await broker('/token/users/100001', { headers: { Authorization: `Bearer ${API_KEY}` } }));
    expect(token.scopes).toEqual(['chat:read', 'chat:edit']);
  });

  it('never polls Twitch faster than the interval, however often it is asked', async () => {
    await twitch.device.configure({ interval: 2 });
    const started = await start();
    const answers = await Promise.all(Array.from({ length: 20 }, () => poll(started.poll_token)));
    for (const answer of answers) expect(await json(answer)).toMatchObject({ error: 'authorization_pending' });
    expect(await devicePolls()).toBe(0);
    await sleep(2_100);
    await Promise.all(Array.from({ length: 20 }, () => poll(started.poll_token)));
    expect(await devicePolls()).toBe(1);
  });

  it('waits 5 s longer after Twitch says slow_down', async () => {
    await twitch.device.configure({ interval: 1 });
    const started = await start();
    await twitch.inject({ path: '/oauth2/token', grantType: DEVICE_GRANT, status: 400, body: JSON.stringify({ status: 400, message: 'slow_down' }), times: 1 });
    await sleep(1_100);
    expect(await json(await poll(started.poll_token))).toMatchObject({ error: 'slow_down' });
    await sleep(1_100);
    expect(await json(await poll(started.poll_token))).toMatchObject({ error: 'authorization_pending' });
    expect(await devicePolls()).toBe(1);
  });

  it('answers access_denied when the user refuses, and expired_token when the code runs out', async () => {
    await twitch.device.configure({ interval: 1, expiresIn: 2 });
    const refused = await start();
    await twitch.device.deny(refused.user_code);
    await sleep(1_100);
    expect(await json(await poll(refused.poll_token))).toMatchObject({ error: 'access_denied' });

    const abandoned = await start();
    await sleep(2_100);
    expect(await json(await poll(abandoned.poll_token))).toMatchObject({ error: 'expired_token' });
  });

  it('needs an API key of scope users, and refuses bad input with 400', async () => {
    expect((await post('/device', { scope: 'chat:read' }, APP_ONLY_API_KEY)).status).toBe(403);
    expect((await post('/device', { scope: '<script>' })).status).toBe(400);
    expect((await post('/device/poll', { poll_token: 'short' })).status).toBe(400);
    expect(await json(await poll('A'.repeat(43)))).toMatchObject({ error: 'expired_token' });
  });
});
