import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../src/index';
import type { Env } from '../src/env';
import { BROKER } from './test-bindings';
import { consent, CookieJar, json, pkcePair, startLogin } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

/** Finishes a login at /callback, optionally with settings replaced (as after a redeploy). */
async function finish(jar: CookieJar, callbackUrl: URL, overrides: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(`${BROKER}${callbackUrl.pathname}${callbackUrl.search}`, {
    headers: { Cookie: jar.header(), 'CF-Connecting-IP': jar.address },
    redirect: 'manual',
  });
  const response = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return jar.take(response);
}

describe('OpenID Connect', () => {
  it('sends a nonce with openid, verifies the id_token against Twitch keys, and logs the user in', async () => {
    const jar = new CookieJar();
    const twitchUrl = await startLogin(jar, { scope: 'openid user:read:email', codeChallenge: (await pkcePair()).challenge });
    expect(twitchUrl.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const response = await finish(jar, await consent(twitchUrl, '100002'));
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('Location')!).searchParams.has('session_code')).toBe(true);
    const token = await jar.fetch('/token');
    expect(await json(token)).toMatchObject({ user_id: '100002', scopes: ['openid', 'user:read:email'] });
  });

  it('always asks for openid with a fresh nonce, even when the app names other scopes only', async () => {
    const jar = new CookieJar();
    const first = await startLogin(jar, { scope: 'chat:read' });
    const second = await startLogin(jar, { scope: 'chat:read' });
    expect(first.searchParams.get('scope')!.split(' ').sort()).toEqual(['chat:read', 'openid']);
    expect(first.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second.searchParams.get('nonce')).not.toBe(first.searchParams.get('nonce'));
  });

  it("refuses a victim's code pasted into the attacker's own login (code injection)", async () => {
    // The victim's code leaks (a log, a Referer, a compromised page) before the victim's browser uses it.
    const victim = new CookieJar();
    const victimCallback = await consent(await startLogin(victim, { scope: 'chat:read' }), '100002');
    const stolenCode = victimCallback.searchParams.get('code')!;

    // The attacker starts a login of their own and finishes it with the stolen code.
    const attacker = new CookieJar();
    const attackerState = (await startLogin(attacker, { scope: 'chat:read' })).searchParams.get('state')!;
    const injected = await attacker.fetch(`/callback?code=${stolenCode}&state=${attackerState}`);
    expect(injected.status).toBe(302);
    const location = new URL(injected.headers.get('Location')!);
    expect(location.searchParams.get('error')).toBe('invalid_grant');
    expect(location.searchParams.has('session_code')).toBe(false);
    expect(attacker.sessionCookie).toBeUndefined();
    expect((await attacker.fetch('/token')).status).toBe(401);
  });

  it('refuses an id_token carrying another nonce: no session, error=invalid_grant', async () => {
    const jar = new CookieJar();
    const twitchUrl = await startLogin(jar, { scope: 'openid' });
    twitchUrl.searchParams.set('nonce', 'a-nonce-the-broker-never-sent');
    const response = await finish(jar, await consent(twitchUrl, '100001'));
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('Location')!).searchParams.get('error')).toBe('invalid_grant');
    expect(jar.sessionCookie).toBeUndefined();
  });

  it('refuses an id_token from an unexpected issuer', async () => {
    const jar = new CookieJar();
    const twitchUrl = await startLogin(jar, { scope: 'openid' });
    const response = await finish(jar, await consent(twitchUrl, '100001'), { TWITCH_OIDC_ISSUER: 'https://issuer.example.com' });
    expect(new URL(response.headers.get('Location')!).searchParams.get('error')).toBe('invalid_grant');
    expect(jar.sessionCookie).toBeUndefined();
    expect((await twitch.counts()).token.authorization_code).toBe(1);
  });
});
