import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import type { AppEnv } from '../env';

/**
 * A one-page console: log in, see who you are, fetch a token. It is what `npm start` opens, and a
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
<p><a class="button" id="login" href="/authorize">Log in with Twitch</a>
<button id="token">Get my access token</button> <button class="secondary" id="logout">Log out</button></p>
<pre id="out">Not asked yet.</pre>
<script type="module">
const out = document.getElementById('out');
const show = (value) => { out.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2); };
const params = new URLSearchParams(location.search);
if (params.get('error')) show({ error: params.get('error'), error_description: params.get('error_description') });
const code = params.get('session_code');
if (code) {
  history.replaceState(null, '', '/');
  const res = await fetch('/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ session_code: code }) });
  const body = await res.json();
  show(res.ok ? 'Logged in as user ' + body.user_id + '. From a shell:\\n\\ncurl -H "Authorization: Bearer ' + body.session_token + '" ' + location.origin + '/token' : body);
}
document.getElementById('token').onclick = async () => { const res = await fetch('/token'); show(await res.json()); };
document.getElementById('logout').onclick = async () => { const res = await fetch('/logout', { method: 'POST' }); show(await res.json()); };
</script></body></html>`;

export const homeRoutes = new Hono<AppEnv>().get(
  '/',
  describeRoute({
    tags: ['meta'],
    summary: 'A one-page console: log in, fetch your token, log out',
    responses: { 200: { description: 'the console', content: { 'text/html': { schema: { type: 'string' as const } } } } },
  }),
  (c) => c.html(PAGE),
);
