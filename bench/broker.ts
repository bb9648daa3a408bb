import { apiKeyFor, Browser, startLocalSystem, type LocalSystem } from '../test/e2e/local-system';
import { pkcePair } from '../test/support/pkce';

/**
 * The system under test for the benchmark: the local Twitch stand-in on a real port and the
 * Worker under `wrangler dev` with fresh local state, configured as the end-to-end test does.
 */

/** The API key the benchmark presents; the broker is configured with its digest only. */
export const API_KEY = apiKeyFor('bench');

/** The system the benchmark drives (see test/e2e/local-system.ts). */
export type BenchSystem = LocalSystem;

/** Starts the stand-in and a fresh `wrangler dev` pointed at it. */
export const startSystem = (): Promise<BenchSystem> => startLocalSystem('bench');

/** What a logged-in user holds: the session cookie and a bearer session token. */
export interface LoggedInUser {
  userId: string;
  cookie: string;
  sessionToken: string;
}

function expectStatus(response: Response, status: number, step: string): void {
  if (response.status !== status) throw new Error(`${step}: expected ${status}, got ${response.status}`);
}

/** Logs `userId` in through the browser flow (authorize, stand-in consent, callback) and exchanges the session code. */
export async function logIn(system: BenchSystem, userId: string): Promise<LoggedInUser> {
  const { broker, twitch } = system;
  const browser = new Browser();
  const pkce = await pkcePair();
  const authorize = await browser.fetch(`${broker.url}/authorize?code_challenge=${pkce.challenge}&code_challenge_method=S256`);
  expectStatus(authorize, 302, 'GET /authorize');
  const consentUrl = new URL(authorize.headers.get('Location')!);
  const form = new URLSearchParams(consentUrl.searchParams);
  form.set('user_id', userId);
  form.set('decision', 'allow');
  const approved = await browser.fetch(`${twitch.url}/oauth2/authorize`, {
    method: 'POST',
    body: form,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  const callback = approved.headers.get('Location');
  if (!callback?.startsWith(`${broker.url}/callback?`)) throw new Error(`consent did not redirect to /callback (status ${approved.status})`);
  const landed = await browser.fetch(callback);
  expectStatus(landed, 302, 'GET /callback');
  const sessionCode = new URL(landed.headers.get('Location')!).searchParams.get('session_code');
  const sessionCookie = browser.cookies(broker.url).get('ttb_session');
  if (!sessionCode || !sessionCookie) throw new Error('login left no session code or cookie');
  const exchanged = await fetch(`${broker.url}/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ session_code: sessionCode, code_verifier: pkce.verifier }),
    signal: AbortSignal.timeout(15_000),
  });
  expectStatus(exchanged, 200, 'POST /session');
  const { session_token: sessionToken } = (await exchanged.json()) as { session_token: string };
  return { userId, cookie: `ttb_session=${sessionCookie}`, sessionToken };
}

/** Total /oauth2 calls the stand-in has answered so far. */
export async function upstreamCallCount(system: BenchSystem): Promise<{ total: number; refresh: number; clientCredentials: number }> {
  const response = await fetch(`${system.twitch.url}/_standin/calls`, { signal: AbortSignal.timeout(15_000) });
  const { counts } = (await response.json()) as {
    counts: { authorize: number; token: Record<string, number>; validate: number; revoke: number; other: number };
  };
  const tokenCalls = Object.values(counts.token).reduce((sum, count) => sum + count, 0);
  return {
    total: counts.authorize + tokenCalls + counts.validate + counts.revoke + counts.other,
    refresh: counts.token.refresh_token ?? 0,
    clientCredentials: counts.token.client_credentials ?? 0,
  };
}

/** Changes the stand-in's configuration (token lifetimes). */
export async function configureStandin(system: BenchSystem, change: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${system.twitch.url}/_standin/config`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(change),
    signal: AbortSignal.timeout(15_000),
  });
  expectStatus(response, 200, 'POST /_standin/config');
}
