import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../../src/index';
import type { Env } from '../../src/env';
import { APP_ORIGIN, BROKER, TWITCH } from '../test-bindings';
import { pkcePair } from './pkce';
import { randomClientAddress } from '../../scripts/random-address';

export { pkcePair };

/**
 * Sends a request to the broker's entry point inside workerd, with the real bindings, and waits
 * for the work it left running. (The entry is imported rather than reached through `exports`, so
 * the test shares its module instance: `forgetAppToken` then clears the same isolate cache.)
 */
export async function broker(path: string, init?: RequestInit, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(`${BROKER}${path}`, { redirect: 'manual', ...init });
  // Each caller gets its own address unless it names one, as on the internet: the login rate
  // limit is per address, and a whole suite from one address would trip it.
  if (!request.headers.has('CF-Connecting-IP')) request.headers.set('CF-Connecting-IP', randomClientAddress());
  const response = await worker.fetch(request, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** A browser (one address, one cookie jar for the broker's origin): enough for Set-Cookie / Cookie round trips. */
export class CookieJar {
  readonly cookies = new Map<string, string>();
  readonly address = randomClientAddress();

  /** Remembers (or forgets, on Max-Age=0) every cookie a response sets. */
  take(response: Response): Response {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';');
      const [name, ...value] = pair!.split('=');
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
      if (expired) this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value.join('='));
    }
    return response;
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** A browser request to the broker carrying this jar's cookies. */
  async fetch(path: string, init: RequestInit = {}, bindings: Env = env): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('Cookie', this.header());
    if (!headers.has('CF-Connecting-IP')) headers.set('CF-Connecting-IP', this.address);
    return this.take(await broker(path, { ...init, headers }, bindings));
  }

  get sessionCookie(): string | undefined {
    return this.cookies.get('__Host-ttb_session');
  }
}

export interface LoginOptions {
  userId?: string;
  scope?: string;
  returnTo?: string;
  jar?: CookieJar;
  decision?: 'allow' | 'deny';
  /** The PKCE challenge to send; `login()` makes one unless given `null` (a login without PKCE). */
  codeChallenge?: string | null;
}

/** Starts a login at /authorize and returns where the broker sent the browser, with its params. */
export async function startLogin(jar: CookieJar, options: Pick<LoginOptions, 'scope' | 'returnTo' | 'codeChallenge'> = {}) {
  const query = new URLSearchParams({ return_to: options.returnTo ?? `${APP_ORIGIN}/after-login` });
  if (options.scope !== undefined) query.set('scope', options.scope);
  if (options.codeChallenge) {
    query.set('code_challenge', options.codeChallenge);
    query.set('code_challenge_method', 'S256');
  }
  const response = await jar.fetch(`/authorize?${query}`);
  expect(response.status).toBe(302);
  return new URL(response.headers.get('Location')!);
}

/** Clicks the stand-in's consent page: approve as `userId`, or deny. Returns Twitch's redirect. */
export async function consent(twitchAuthorizeUrl: URL, userId: string, decision: 'allow' | 'deny' = 'allow'): Promise<URL> {
  const form = new URLSearchParams(twitchAuthorizeUrl.searchParams);
  form.set('user_id', userId);
  form.set('decision', decision);
  const response = await fetch(`${TWITCH}/oauth2/authorize`, {
    method: 'POST',
    body: form,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  });
  expect(response.status).toBe(302);
  return new URL(response.headers.get('Location')!);
}

/**
 * The whole browser flow: authorize (with a PKCE challenge unless `codeChallenge: null`), consent
 * at the stand-in, callback. `verifier` is the PKCE verifier that goes with the session code.
 */
export async function login(options: LoginOptions = {}) {
  const jar = options.jar ?? new CookieJar();
  const pkce = options.codeChallenge === undefined ? await pkcePair() : null;
  const twitchUrl = await startLogin(jar, { ...options, codeChallenge: pkce?.challenge ?? options.codeChallenge });
  const callbackUrl = await consent(twitchUrl, options.userId ?? '100001', options.decision ?? 'allow');
  const response = await jar.fetch(`${callbackUrl.pathname}${callbackUrl.search}`);
  const location = response.headers.get('Location');
  return { jar, response, twitchUrl, callbackUrl, verifier: pkce?.verifier, location: location ? new URL(location) : null };
}

/** POST /session from a cross-site frontend: the session code and (for PKCE logins) its verifier. */
export function exchangeSessionCode(sessionCode: string | null | undefined, codeVerifier?: string, headers: Record<string, string> = {}) {
  return broker('/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: APP_ORIGIN, ...headers },
    body: JSON.stringify(codeVerifier === undefined ? { session_code: sessionCode } : { session_code: sessionCode, code_verifier: codeVerifier }),
  });
}

/** Logs in and exchanges the session code for a bearer session token. */
export async function loginWithBearer(userId = '100001') {
  const { location, verifier } = await login({ userId });
  const response = await exchangeSessionCode(location!.searchParams.get('session_code'), verifier);
  expect(response.status).toBe(200);
  const body = await response.json<{ session_token: string }>();
  return body.session_token;
}

/** Reads a JSON body with a type. */
export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return response.json<T>();
}
