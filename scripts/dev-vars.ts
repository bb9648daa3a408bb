/**
 * The local .dev.vars that `npm start` writes on first run. It lives in code, not in
 * .dev.vars.example: that file is what the Deploy to Cloudflare button reads (it asks for every
 * entry in it as a production secret, with the example's value filled in), so it holds secrets only,
 * with empty values, and never the stand-in's local URLs or a usable key.
 */

/** Where `npm start` runs the local Twitch stand-in unless .dev.vars says otherwise. */
export const LOCAL_STANDIN_URL = 'http://127.0.0.1:8789';

/** The text of a local .dev.vars, with the given fresh keys and the stand-in at `standinUrl`. */
export function localDevVars(keys: { sessionSecret: string; tokenEncryptionKey: string; apiKeys: string }, standinUrl = LOCAL_STANDIN_URL): string {
  return `# Local settings for \`npm start\` (wrangler dev), written on its first run. Git-ignored; delete it to
# get fresh keys. For production secrets see .dev.vars.example and README "Deploy".

# The local Twitch stand-in (not real Twitch). To use real Twitch locally, put your app's Client ID
# and Client Secret here (https://dev.twitch.tv/console/apps), set both base URLs to
# https://id.twitch.tv and https://api.twitch.tv, and register http://localhost:8787/callback.
TWITCH_CLIENT_ID=standin-client-id
TWITCH_CLIENT_SECRET=standin-client-secret
TWITCH_AUTH_BASE_URL=${standinUrl}
TWITCH_API_BASE_URL=${standinUrl}

# Fresh random keys, for this machine only.
SESSION_SECRET=${keys.sessionSecret}
TOKEN_ENCRYPTION_KEY=${keys.tokenEncryptionKey}
# Its key is in .dev.api-key.
API_KEYS=${keys.apiKeys}

# Frontend origins allowed as return_to targets and for CORS, comma-separated.
ALLOWED_ORIGINS=http://localhost:5173
# Scopes requested when /authorize names none (space-separated).
DEFAULT_SCOPES=user:read:email

# Optional: EventSub (revocation in seconds). Needs PUBLIC_URL too; Twitch calls {PUBLIC_URL}/eventsub
# and requires https on port 443, so locally it is for the stand-in only. 10-100 ASCII characters:
# \`openssl rand -hex 32\`
# EVENTSUB_SECRET=
`;
}
