import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../src/index';
import type { Env } from '../src/env';
import { BROKER } from './test-bindings';
import { consent, CookieJar, json, startLogin } from './support/broker';
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
    const twitchUrl = await startLogin(jar, { scope: 'openid user:read:email' });
    expect(twitchUrl.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const response = await finish(jar, await consent(twitchUrl, '100002'));
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('Location')!).searchParams.has('session_code')).toBe(true);
    const token = await jar.fetch('/token');
    expect(await json(token)).toMatchObject({ user_id: '100002', scopes: ['openid', 'user:read:email'] });
  });

  it('sends no nonce without openid', async () => {
    const twitchUrl = await startLogin(new CookieJar(), { scope: 'chat:read' });
    expect(twitchUrl.searchParams.has('nonce')).toBe(false);
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
