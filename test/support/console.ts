import { expect } from 'vitest';
import { API_KEY, BROKER } from '../test-bindings';
import { CookieJar } from './broker';

/** What a browser sends with a form posted from one of the console's own pages. */
export const SAME_ORIGIN = { Origin: BROKER, 'Sec-Fetch-Site': 'same-origin', 'Content-Type': 'application/x-www-form-urlencoded' } as const;

/** Posts a console form as the browser would from a console page. */
export function postForm(jar: CookieJar, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return jar.fetch(path, { method: 'POST', body: new URLSearchParams(fields), headers: { ...SAME_ORIGIN, ...headers } });
}

/** Signs a browser in to the console with `apiKey` (the test key with every scope by default). */
export async function signIn(jar = new CookieJar(), apiKey = API_KEY): Promise<CookieJar> {
  const response = await postForm(jar, '/admin/console/sign-in', { api_key: apiKey });
  expect(response.status, await response.clone().text()).toBe(303);
  expect(jar.cookies.has('__Host-ttb_admin')).toBe(true);
  return jar;
}

/** The CSRF token in a console page's forms. */
export function csrfIn(page: string): string {
  const match = page.match(/name="csrf" value="([^"]+)"/);
  expect(match, 'the page carries a CSRF token').not.toBeNull();
  return match![1]!;
}

/** A console page as a signed-in browser gets it: its HTML and CSRF token. */
export async function consolePage(jar: CookieJar, path: string): Promise<{ status: number; html: string; csrf: string | null }> {
  const response = await jar.fetch(path);
  const html = await response.text();
  return { status: response.status, html, csrf: html.match(/name="csrf" value="([^"]+)"/)?.[1] ?? null };
}
