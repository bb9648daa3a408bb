const CONTROL_ENDPOINTS: [string, string][] = [
  ['POST /_standin/reset', 'forget codes, tokens, faults, calls; users, clients and config back to their start values'],
  ['GET /_standin/calls', 'every /oauth2 call with its status, and counts per endpoint and grant'],
  ['GET /_standin/api-calls', 'every Helix and EventSub call with its raw request target (path and query as sent)'],
  ['GET|POST|DELETE /_standin/faults', 'list, queue (object or array) or clear injected faults'],
  ['GET|POST /_standin/config', 'token lifetimes, refresh behaviour, registered redirect URIs'],
  ['POST /_standin/expire', 'expire access tokens now: {access_token} | {user_id} | {app: true}'],
  ['POST /_standin/disconnect', 'the user clicked Disconnect: {user_id, client_id?}'],
  ['GET|POST /_standin/users', 'list or add users: {users: [{id, login, displayName?, email?}]}'],
  ['POST /_standin/users/bulk', 'generate users user_<id>: {count, startId?}'],
  ['GET|POST /_standin/clients', 'list or add OAuth clients: {clients: [{clientId, clientSecret, redirectUris?}]}'],
  ['POST /_standin/grants', 'issue tokens as if the user logged in: {user_id | user_ids, scopes, client_id?}'],
  ['GET /_standin/secrets', 'every token, code and client secret ever issued or known'],
  ['GET /_standin/refresh-token-reuse', 'refresh tokens presented again after rotation spent them: {reused: string[], attempts}'],
];

const TWITCH_ENDPOINTS = [
  'GET /oauth2/authorize',
  'POST /oauth2/token',
  'GET /oauth2/validate',
  'POST /oauth2/revoke',
  'GET /oauth2/.well-known/openid-configuration',
  'GET /oauth2/keys',
  'GET /oauth2/userinfo',
  'POST /oauth2/device (device code flow; the token grant is urn:ietf:params:oauth:grant-type:device_code)',
  'GET /activate (where a user enters a device code)',
  "GET /helix/users (also /mock/users, for twurple's mock mode)",
  'GET, POST, DELETE /helix/eventsub/subscriptions (webhooks, signed as Twitch signs them)',
];

/** Renders GET /: what this server is and which endpoints it has. */
export function renderHomePage(): string {
  const control = CONTROL_ENDPOINTS.map(([endpoint, purpose]) => `<li><code>${endpoint}</code>: ${purpose}</li>`).join('\n    ');
  const twitch = TWITCH_ENDPOINTS.map((endpoint) => `<li><code>${endpoint}</code></li>`).join('\n    ');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Local Twitch stand-in</title>
<style>body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; } code { background: #f0f0f4; padding: 0 .25rem; }</style>
</head>
<body>
  <h1>Local Twitch stand-in</h1>
  <p>An imitation of Twitch's identity server (<code>id.twitch.tv</code>) and of the parts of Helix the broker uses,
  for tests and local development. It is <strong>not</strong> Twitch: accounts, tokens and keys here are fake.</p>
  <p>Users, codes, tokens and grants live in memory; started with <code>--state-file</code> (as <code>npm start</code> does,
  into <code>.wrangler/state/twitch-standin.json</code>) they are saved after each request and loaded at the next start, so
  they agree with the broker's local storage. Faults, the call logs and rate-limit buckets are never saved.</p>
  <h2>Twitch endpoints</h2>
  <ul>
    ${twitch}
  </ul>
  <h2>Control endpoints (JSON)</h2>
  <ul>
    ${control}
  </ul>
</body>
</html>`;
}
