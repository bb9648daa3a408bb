import { expect } from 'vitest';
import type { Browser, LocalSystem } from './local-system';

/**
 * Walks `browser` from a broker /authorize URL through the stand-in's consent page (as `userId`,
 * allowing or denying) and the broker's /callback, and returns where the broker sent it back
 * (`return_to?session_code=…`, or `?error=…`).
 */
export async function walkLogin(
  browser: Browser,
  system: LocalSystem,
  authorizeUrl: string,
  userId: string,
  decision: 'allow' | 'deny' = 'allow',
): Promise<URL> {
  const authorize = await browser.fetch(authorizeUrl);
  expect(authorize.status, await authorize.clone().text()).toBe(302);
  const consentUrl = new URL(authorize.headers.get('Location')!);
  expect(consentUrl.origin).toBe(system.twitch.url);
  const form = new URLSearchParams(consentUrl.searchParams);
  form.set('user_id', userId);
  form.set('decision', decision);
  const approved = await browser.fetch(`${system.twitch.url}/oauth2/authorize`, {
    method: 'POST',
    body: form,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  expect(approved.status).toBe(302);
  const landed = await browser.fetch(approved.headers.get('Location')!);
  expect(landed.status).toBe(302);
  return new URL(landed.headers.get('Location')!);
}

/** Logs `userId` in at the broker with `scopes`, so server-side callers can fetch the user's token. */
export async function logInAs(browser: Browser, system: LocalSystem, userId: string, scopes: string[]): Promise<void> {
  await walkLogin(browser, system, `${system.broker.url}/authorize?${new URLSearchParams({ scope: scopes.join(' ') })}`, userId);
}

/** Calls the stand-in's control API. */
export async function standinControl(system: LocalSystem, path: string, body: unknown, method: 'POST' | 'DELETE' = 'POST'): Promise<unknown> {
  const response = await fetch(`${system.twitch.url}/_standin${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: method === 'POST' ? JSON.stringify(body) : null,
  });
  expect(response.ok).toBe(true);
  return response.json();
}
