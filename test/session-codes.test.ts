import { env } from 'cloudflare:workers';
import { listDurableObjectIds, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, BROKER } from './test-bindings';
import { broker, consent, CookieJar, exchangeSessionCode, json, login, pkcePair, startLogin } from './support/broker';
import { freshStateForEachTest } from './support/reset';

freshStateForEachTest();

/**
 * A session code travels in a URL, so it must be worthless to whoever reads it there: cross-site
 * codes need the PKCE verifier only the frontend holds, same-site codes the browser's own cookie.
 */
describe('session codes bound to their frontend (PKCE)', () => {
  it('exchanges a PKCE-bound session code only with its code_verifier', async () => {
    const { location, verifier } = await login({ userId: '100001' });
    const code = location!.searchParams.get('session_code');
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const exchanged = await exchangeSessionCode(code, verifier);
    expect(exchanged.status).toBe(200);
    expect(await json(exchanged)).toMatchObject({ user_id: '100001', token_type: 'bearer' });
  });

  it('refuses a PKCE-bound code without a verifier (400 invalid_grant) and spends it', async () => {
    const { location, verifier } = await login({ userId: '100001' });
    const code = location!.searchParams.get('session_code');

    // The attacker who read the URL, with curl: no Origin, no verifier.
    const stolen = await broker('/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ session_code: code }),
    });
    expect(stolen.status).toBe(400);
    expect(await json(stolen)).toMatchObject({ error: 'invalid_grant' });

    // Spent: not even the verifier helps now, so guessing costs the code.
    const late = await exchangeSessionCode(code, verifier);
    expect(late.status).toBe(400);
  });

  it('refuses a wrong verifier with 400 invalid_grant and spends the code', async () => {
    const { location, verifier } = await login({ userId: '100001' });
    const code = location!.searchParams.get('session_code');
    const wrong = await exchangeSessionCode(code, (await pkcePair()).verifier);
    expect(wrong.status).toBe(400);
    expect(await json(wrong)).toMatchObject({ error: 'invalid_grant' });
    expect((await exchangeSessionCode(code, verifier)).status).toBe(400);
  });

  it('gives a cross-site login that sent no code_challenge no session code, only the cookie session', async () => {
    const { location, jar } = await login({ userId: '100001', codeChallenge: null });
    expect(location!.origin).toBe(APP_ORIGIN);
    expect(location!.searchParams.has('session_code')).toBe(false);
    expect(jar.sessionCookie).toBeDefined();
    expect((await jar.fetch('/token')).status).toBe(200);
  });

  it.each([
    ['plain', 'code_challenge_method=plain'],
    ['missing (RFC 7636 would mean plain)', ''],
    ['unknown', 'code_challenge_method=S512'],
  ])('refuses a code_challenge whose method is %s with 400', async (_name, method) => {
    const { challenge } = await pkcePair();
    const response = await broker(`/authorize?code_challenge=${challenge}&${method}&return_to=${encodeURIComponent(APP_ORIGIN)}`);
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_request' });
  });

  it.each([
    ['too short', 'abc'],
    ['not base64url', `${'a'.repeat(42)}=`],
  ])('refuses a code_challenge that is %s with 400', async (_name, challenge) => {
    const response = await broker(`/authorize?code_challenge=${encodeURIComponent(challenge)}&code_challenge_method=S256`);
    expect(response.status).toBe(400);
  });

  it.each([
    ['too short', 'a'.repeat(42)],
    ['too long', 'a'.repeat(129)],
    ['with characters RFC 7636 forbids', `${'a'.repeat(42)}+/`],
  ])('refuses a code_verifier that is %s with 400 before looking at the code', async (_name, verifier) => {
    const { location, verifier: right } = await login({ userId: '100001' });
    const code = location!.searchParams.get('session_code');
    const response = await exchangeSessionCode(code, verifier);
    expect(response.status).toBe(400);
    expect(await json(response)).toHaveProperty('error');
    // A malformed body is refused before the code is taken: the frontend can still finish.
    expect((await exchangeSessionCode(code, right)).status).toBe(200);
  });
});

describe('same-site session codes bound to the browser', () => {
  it('exchanges a same-site code from the browser that logged in', async () => {
    const { location, jar } = await login({ userId: '100001', returnTo: `${BROKER}/`, codeChallenge: null });
    const code = location!.searchParams.get('session_code');
    expect(code).toBeTruthy();
    const response = await jar.fetch('/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: BROKER },
      body: JSON.stringify({ session_code: code }),
    });
    expect(response.status).toBe(200);
  });

  it('refuses the link an attacker hands to a victim after finishing their own login', async () => {
    const attacker = await login({ userId: '100002', returnTo: `${BROKER}/`, codeChallenge: null });
    const code = attacker.location!.searchParams.get('session_code');

    // The victim's browser opens the attacker's link; the console page posts the code.
    const victim = new CookieJar();
    const response = await victim.fetch('/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: BROKER },
      body: JSON.stringify({ session_code: code }),
    });
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'invalid_grant' });
    expect(victim.sessionCookie).toBeUndefined();
  });

  it('refuses a same-site code presented with no cookie at all (curl)', async () => {
    const { location } = await login({ userId: '100001', returnTo: `${BROKER}/`, codeChallenge: null });
    const response = await exchangeSessionCode(location!.searchParams.get('session_code'));
    expect(response.status).toBe(400);
  });
});

describe('one-time records', () => {
  it('are named by a hash of the state or code, never the secret itself', async () => {
    const jar = new CookieJar();
    const twitchUrl = await startLogin(jar);
    const state = twitchUrl.searchParams.get('state')!;
    const callback = await consent(twitchUrl, '100001');
    const ids = await listDurableObjectIds(env.ONE_TIME_STORE);
    expect(ids.length).toBeGreaterThan(0);
    const secretNamed = env.ONE_TIME_STORE.idFromName(`state:${state}`);
    for (const id of ids) {
      expect(id.equals(secretNamed)).toBe(false);
      // Where the runtime keeps the name an id was made from, it must not be the state either.
      const name = await runInDurableObject(env.ONE_TIME_STORE.get(id), async (_instance, ctx) => ctx.id.name);
      expect(name ?? '').not.toContain(state);
    }
    // The state still works: only its object's name changed.
    expect((await jar.fetch(`${callback.pathname}${callback.search}`)).status).toBe(302);
  });
});
