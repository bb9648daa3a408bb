import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import type { AppEnv } from '../env';
import { noCredentials } from '../openapi/describe';

/**
 * A one-page console: log in, see who you are (also after a reload), fetch a token. It is what `npm start` opens, and a
 * quick check after a deploy. It holds no secret: everything it shows comes from the public routes.
 */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>twitch-token-broker</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1f1f23}
a.button,button{display:inline-block;background:#9146ff;color:#fff;border:0;border-radius:6px;padding:.5rem 1rem;font:inherit;text-decoration:none;cursor:pointer}
button.secondary{background:#53535f}pre{background:#f2f2f5;padding:1rem;border-radius:6px;overflow:auto;white-space:pre-wrap;word-break:break-all}
</style></head><body>
<h1>twitch-token-broker</h1>
<p>This Worker holds Twitch tokens for your app: it logs users in, keeps their tokens fresh and hands them out.</p>
<p id="status">Checking whether you are logged in…</p>
<p><a class="button" id="login" href="/authorize">Log in with Twitch</a>
<button id="token">Get my access token</button> <button class="secondary" id="logout">Log out</button></p>
<pre id="out">Not asked yet.</pre>
<script type="module">
const out = document.getElementById('out');
const status = document.getElementById('status');
const show = (value) => { out.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2); };
// Who is logged in comes from the session cookie (same origin), so a reload shows the same state.
const refreshStatus = async () => {
  const res = await fetch('/token');
  const body = await res.json().catch(() => ({}));
  status.textContent = res.ok ? 'Logged in as ' + body.login + ' (Twitch user ' + body.user_id + ').' : 'Not logged in.';
  return res.ok;
};
const params = new URLSearchParams(location.search);
// Both the login result and an error are shown once; the address bar goes back to a plain "/".
if (params.has('error') || params.has('session_code')) history.replaceState(null, '', location.pathname);
if (params.get('error')) show({ error: params.get('error'), error_description: params.get('error_description') });
const code = params.get('session_code');
let bearer = null;
if (code) {
  const res = await fetch('/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ session_code: code }) });
  const body = await res.json();
  if (res.ok) bearer = body.session_token; else show(body);
}
const loggedIn = await refreshStatus();
// The bearer line is shown only right after login: the page never stores a session token.
if (loggedIn && bearer) show('From a shell:\\n\\ncurl -H "Authorization: Bearer ' + bearer + '" ' + location.origin + '/token');
document.getElementById('token').onclick = async () => { const res = await fetch('/token'); show(await res.json()); };
document.getElementById('logout').onclick = async () => { const res = await fetch('/logout', { method: 'POST' }); show(await res.json()); await refreshStatus(); };
</script></body></html>`;

export const homeRoutes = new Hono<AppEnv>().get(
  '/',
  describeRoute({
    tags: ['meta'],
    security: noCredentials,
    summary: 'A one-page console: log in, fetch your token, log out',
    responses: { 200: { description: 'the console', content: { 'text/html': { schema: { type: 'string' as const } } } } },
  }),
  (c) => c.html(PAGE),
);
