import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { SignJWT, base64url } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, APP_ORIGIN, TEST_BINDINGS } from './test-bindings';
import { broker, exchangeSessionCode, login } from './support/broker';
import { twitch } from './support/twitch';
import { resetAll } from './support/reset';

/**
 * Hostile input, table-driven: every case gets a clear 4xx JSON error, and the stored grant of a
 * logged-in user survives all of them untouched.
 */

const USER = '100001';
const secret = new TextEncoder().encode(TEST_BINDINGS.SESSION_SECRET);
const now = () => Math.floor(Date.now() / 1000);

/** A session JWT like the broker's, with parts overridden. */
async function forgedSession(options: {
  key?: Uint8Array;
  alg?: string;
  audience?: string;
  issuer?: string;
  iat?: number;
  exp?: number;
  claims?: Record<string, unknown>;
}): Promise<string> {
  return new SignJWT({ sid: 'forged', sv: 1, ...options.claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .setIssuer(options.issuer ?? 'twitch-token-broker')
    .setAudience(options.audience ?? 'twitch-token-broker:session')
    .setSubject(USER)
    .setIssuedAt(options.iat ?? now())
    .setExpirationTime(options.exp ?? now() + 3600)
    .sign(options.key ?? secret);
}

function unsignedSession(): string {
  const encode = (value: object) => base64url.encode(JSON.stringify(value));
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub: USER, sid: 'x', sv: 1, iss: 'twitch-token-broker', aud: 'twitch-token-broker:session', iat: now(), exp: now() + 3600 })}.`;
}

let validSession = '';
let tokenBefore = '';

const get =
  (path: string, headers: Record<string, string> = {}) =>
  () =>
    broker(path, { headers });
const post =
  (path: string, body: BodyInit | null, headers: Record<string, string> = {}) =>
  () =>
    broker(path, { method: 'POST', body, headers });
const withSession = (token: () => string) => () => broker('/token', { headers: { Authorization: `Bearer ${token()}` } });

type Case = [name: string, send: () => Promise<Response>, status: number];

const returnTo = (value: string) => get(`/authorize?return_to=${encodeURIComponent(value)}`);

const cases: Case[] = [
  // return_to tricks
  ['return_to on another origin', returnTo('https://evil.example.com/'), 400],
  ['return_to protocol-relative //evil', returnTo('//evil.example.com/x'), 400],
  ['return_to javascript:', returnTo('javascript:alert(document.cookie)'), 400],
  ['return_to data:', returnTo('data:text/html,<script>alert(1)</script>'), 400],
  ['return_to with userinfo @', returnTo('https://app.example.com@evil.example.com/'), 400],
  ['return_to with backslashes', returnTo('https:\\\\evil.example.com\\'), 400],
  ['return_to path starting /\\', returnTo('/\\evil.example.com'), 400],
  ['return_to IDN look-alike (Cyrillic a)', returnTo('https://\u0430pp.example.com/'), 400],
  ['return_to suffix trick', returnTo('https://app.example.com.evil.example.com/'), 400],
  ['return_to with the wrong scheme', returnTo('http://app.example.com/'), 400],
  ['return_to with a control character', returnTo('https://app.example.com/\u0000x'), 400],
  ['return_to with a tab', returnTo('https://app.example.com/\tx'), 400],
  ['return_to duplicated', get(`/authorize?return_to=${encodeURIComponent(APP_ORIGIN)}&return_to=${encodeURIComponent(APP_ORIGIN)}`), 400],
  // other /authorize parameters
  ['scope with markup', get(`/authorize?scope=${encodeURIComponent('chat:read <script>')}`), 400],
  ['scope duplicated', get('/authorize?scope=chat:read&scope=chat:edit'), 400],
  ['scope far too long', get(`/authorize?scope=${'a'.repeat(2100)}`), 400],
  ['too many scopes', get(`/authorize?scope=${Array.from({ length: 60 }, (_, i) => `s${i}`).join('+')}`), 400],
  ['force_verify not a boolean', get('/authorize?force_verify=yes'), 400],
  ['oversized query string', get(`/authorize?junk=${'x'.repeat(5000)}`), 414],
  // state forgery at /callback
  ['callback without state', get('/callback?code=abc'), 400],
  ['callback with a forged state', get(`/callback?code=abc&state=${'A'.repeat(43)}`), 400],
  ['callback with state of bad characters', get(`/callback?code=abc&state=${encodeURIComponent('<>'.repeat(22))}`), 400],
  ['callback with state duplicated', get(`/callback?code=abc&state=${'A'.repeat(43)}&state=${'B'.repeat(43)}`), 400],
  ['callback with a code of bad characters', get(`/callback?code=${encodeURIComponent('a b;c')}&state=${'A'.repeat(43)}`), 400],
  ['callback with an oversized code', get(`/callback?code=${'a'.repeat(300)}&state=${'A'.repeat(43)}`), 400],
  // session tokens
  ['session with alg none', withSession(unsignedSession), 401],
  ['session signed with the wrong key', () => forgedSession({ key: new TextEncoder().encode('x'.repeat(48)) }).then((t) => withSession(() => t)()), 401],
  ['session for the wrong audience', () => forgedSession({ audience: 'someone-else' }).then((t) => withSession(() => t)()), 401],
  ['session from the wrong issuer', () => forgedSession({ issuer: 'evil' }).then((t) => withSession(() => t)()), 401],
  ['expired session', () => forgedSession({ iat: now() - 7200, exp: now() - 3600 }).then((t) => withSession(() => t)()), 401],
  ['session issued in the future', () => forgedSession({ iat: now() + 3600, exp: now() + 7200 }).then((t) => withSession(() => t)()), 401],
  ['session signed with HS512', () => forgedSession({ alg: 'HS512' }).then((t) => withSession(() => t)()), 401],
  ['session with a string version', () => forgedSession({ claims: { sv: '1' } }).then((t) => withSession(() => t)()), 401],
  ['truncated session', withSession(() => validSession.slice(0, -6)), 401],
  [
    'session with a flipped signature byte',
    withSession(() => validSession.slice(0, -2) + (validSession.at(-2) === 'A' ? 'B' : 'A') + validSession.slice(-1)),
    401,
  ],
  ['junk session cookie', get('/token', { Cookie: '__Host-ttb_session=%%%junk;;;' }), 401],
  ['session cookie of 9000 characters', get('/token', { Cookie: `__Host-ttb_session=${'a'.repeat(9000)}` }), 431],
  ['Basic instead of Bearer', get('/token', { Authorization: 'Basic dXNlcjpwYXNz' }), 401],
  ['two bearer tokens in one header', get('/token', { Authorization: `Bearer ${'a'.repeat(10)} ${'b'.repeat(10)}` }), 401],
  // API keys
  ['wrong API key', get('/token/app', { Authorization: 'Bearer wrong-key-0123456789abcdef' }), 401],
  ['empty API key', get('/token/app', { Authorization: 'Bearer ' }), 401],
  ['very long API key', get('/token/app', { Authorization: `Bearer ${'k'.repeat(600)}` }), 401],
  ['API key in X-Api-Key', get('/token/app', { 'X-Api-Key': API_KEY }), 401],
  ['API key in the query string', get(`/token/app?api_key=${API_KEY}`), 401],
  ['Authorization header of 9000 characters', get('/token/app', { Authorization: `Bearer ${'k'.repeat(9000)}` }), 431],
  ['API key with trailing junk', get('/token/app', { Authorization: `Bearer ${API_KEY}x` }), 401],
  // path parameters
  ['path traversal in :userId', get('/token/users/..%2F..%2Fadmin', { Authorization: `Bearer ${API_KEY}` }), 400],
  ['negative user id', get('/token/users/-1', { Authorization: `Bearer ${API_KEY}` }), 400],
  ['21-digit user id', get(`/token/users/${'9'.repeat(21)}`, { Authorization: `Bearer ${API_KEY}` }), 400],
  ['Arabic-Indic digits as user id', get('/token/users/\u0661\u0662\u0663', { Authorization: `Bearer ${API_KEY}` }), 400],
  ['user id with a NUL', get('/token/users/100001%00', { Authorization: `Bearer ${API_KEY}` }), 400],
  // bodies
  ['session exchange as text/plain', post('/session', 'session_code=x', { 'Content-Type': 'text/plain' }), 415],
  ['session exchange as a form', post('/session', 'session_code=x', { 'Content-Type': 'application/x-www-form-urlencoded' }), 415],
  ['session exchange with broken JSON', post('/session', '{"session_code": ', { 'Content-Type': 'application/json' }), 400],
  ['session exchange with a JSON array', post('/session', '["x"]', { 'Content-Type': 'application/json' }), 400],
  ['session exchange with a number code', post('/session', '{"session_code": 12}', { 'Content-Type': 'application/json' }), 400],
  ['session exchange without a code', post('/session', '{}', { 'Content-Type': 'application/json' }), 400],
  ['session exchange with an unknown code', post('/session', `{"session_code": "${'a'.repeat(43)}"}`, { 'Content-Type': 'application/json' }), 400],
  ['session exchange body over 8 KiB', post('/session', JSON.stringify({ session_code: 'a'.repeat(10_000) }), { 'Content-Type': 'application/json' }), 413],
  ['logout without a session', post('/logout', null), 401],
  // methods and paths
  ['PUT /token', () => broker('/token', { method: 'PUT' }), 405],
  ['DELETE /authorize', () => broker('/authorize', { method: 'DELETE' }), 405],
  ['GET /admin/sweep', get('/admin/sweep', { Authorization: `Bearer ${API_KEY}` }), 405],
  ['PATCH /logout', () => broker('/logout', { method: 'PATCH' }), 405],
  ['an unknown path', get('/../../etc/passwd'), 404],
];

describe('hostile input', () => {
  beforeAll(async () => {
    await resetAll();
    const { location, verifier } = await login({ userId: USER });
    const exchange = await exchangeSessionCode(location!.searchParams.get('session_code'), verifier);
    validSession = (await exchange.json<{ session_token: string }>()).session_token;
    tokenBefore = (await (await broker('/token', { headers: { Authorization: `Bearer ${validSession}` } })).json<{ access_token: string }>()).access_token;
  });

  it('has at least forty cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(tokenBefore).toMatch(/^[a-z0-9]{30}$/);
  });

  it.each(cases)('%s answers a clear 4xx JSON error', async (_name, send, status) => {
    const response = await send();
    expect(response.status).toBe(status);
    const body = await response.json<{ error: unknown; error_description: unknown }>();
    expect(typeof body.error).toBe('string');
    expect(typeof body.error_description).toBe('string');
  });

  it('left the stored grant untouched, and made no call to Twitch', async () => {
    const countsBefore = await twitch.counts();
    const response = await broker('/token', { headers: { Authorization: `Bearer ${validSession}` } });
    expect(response.status).toBe(200);
    expect((await response.json<{ access_token: string }>()).access_token).toBe(tokenBefore);
    const stored = await runInDurableObject(env.USER_VAULT.get(env.USER_VAULT.idFromName(USER)), (_instance, ctx) =>
      ctx.storage.get<{ status: string; grant: unknown }>('user'),
    );
    expect(stored).toMatchObject({ status: 'active', grant: expect.any(Object) });
    expect(countsBefore.token).toEqual({ authorization_code: 1, client_credentials: 0, refresh_token: 0 });
  });
});
