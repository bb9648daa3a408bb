import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from './dev-server';
import { Browser, startLocalSystem, type LocalSystem } from './local-system';
import { pkcePair } from '../support/pkce';

/**
 * The whole product as a new user meets it: the real `wrangler dev` server, the local Twitch
 * stand-in on a real port, and a browser's walk through login, token, cron and logout over HTTP.
 */

let system: LocalSystem;
let broker: DevServer;
let twitch: LocalSystem['twitch'];
let API_KEY: string;

beforeAll(async () => {
  system = await startLocalSystem('e2e');
  ({ broker, twitch, apiKey: API_KEY } = system);
});

afterAll(async () => {
  await system?.stop();
});

describe('the browser flow against wrangler dev', () => {
  it('logs in through the stand-in, serves tokens, runs the cron and logs out', async () => {
    const browser = new Browser();

    const home = await browser.fetch(`${broker.url}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Log in with Twitch');

    const pkce = await pkcePair();
    const authorize = await browser.fetch(`${broker.url}/authorize?code_challenge=${pkce.challenge}&code_challenge_method=S256`);
    expect(authorize.status).toBe(302);
    const consentUrl = authorize.headers.get('Location')!;
    expect(consentUrl.startsWith(`${twitch.url}/oauth2/authorize?`)).toBe(true);

    const consentPage = await browser.fetch(consentUrl);
    expect(consentPage.status).toBe(200);
    expect(await consentPage.text()).toContain('streamer_alice');

    const form = new URLSearchParams(new URL(consentUrl).searchParams);
    form.set('user_id', '100001');
    form.set('decision', 'allow');
    const approved = await browser.fetch(`${twitch.url}/oauth2/authorize`, {
      method: 'POST',
      body: form,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    const callback = approved.headers.get('Location')!;
    expect(callback.startsWith(`${broker.url}/callback?`)).toBe(true);

    const landed = await browser.fetch(callback);
    expect(landed.status).toBe(302);
    const back = new URL(landed.headers.get('Location')!);
    expect(back.origin + back.pathname).toBe(`${broker.url}/`);
    expect(back.searchParams.get('session_code')).toBeTruthy();
    expect(browser.cookies(broker.url).has('ttb_session')).toBe(true);

    const token = await browser.fetch(`${broker.url}/token`);
    expect(token.status).toBe(200);
    expect(await token.json()).toMatchObject({ user_id: '100001', login: 'streamer_alice', token_type: 'bearer' });

    const session = await fetch(`${broker.url}/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ session_code: back.searchParams.get('session_code'), code_verifier: pkce.verifier }),
    });
    const { session_token: sessionToken } = (await session.json()) as { session_token: string };
    const byBearer = await fetch(`${broker.url}/token`, { headers: { Authorization: `Bearer ${sessionToken}` } });
    expect(byBearer.status).toBe(200);

    const app = await fetch(`${broker.url}/token/app`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(app.status).toBe(200);
    const user = await fetch(`${broker.url}/token/users/100001`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(user.status).toBe(200);

    const cron = await fetch(`${broker.url}/__scheduled?cron=${encodeURIComponent('0 * * * *')}`);
    expect(cron.status).toBe(200);

    const logout = await browser.fetch(`${broker.url}/logout`, { method: 'POST', headers: { Origin: broker.url } });
    expect(logout.status).toBe(200);
    expect((await browser.fetch(`${broker.url}/token`)).status).toBe(401);
    expect((await fetch(`${broker.url}/token`, { headers: { Authorization: `Bearer ${sessionToken}` } })).status).toBe(401);
  });
});
