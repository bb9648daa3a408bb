/**
 * Settings the tests run with. The values are test-only; TWITCH_AUTH_BASE_URL's host is a name
 * nothing resolves: every outbound fetch goes to the local Twitch stand-in.
 */
export const TEST_BINDINGS = {
  TWITCH_CLIENT_ID: 'standin-client-id',
  TWITCH_CLIENT_SECRET: 'standin-client-secret',
  TWITCH_AUTH_BASE_URL: 'https://twitch.test',
  TWITCH_API_BASE_URL: 'https://twitch.test',
  SESSION_SECRET: 'test-session-secret-that-is-long-enough-0123456789',
  // 32 bytes, base64 (test-only).
  TOKEN_ENCRYPTION_KEY: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
  // name:scopes:sha256(key). The keys themselves are below; configuration never holds them.
  API_KEYS: [
    'tests:app+users+admin:92381b76a2a3f2e2e802a18d3ef5612b91bbaa53ad8ea4c690891befb992dce4',
    'app-only:app:051a07514afcb6bfdd7adf93bf133dc97714571fc1d918c994ec93a5a5bfcbe0',
    'users-only:users:eac6334b9fa37b844e597a25666f6b340bb5307a65354c9f77ebd4eb3bb10485',
  ].join(','),
  ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173',
  DEFAULT_SCOPES: 'user:read:email',
  PUBLIC_URL: '',
  // The app's webhook receiver is played by the stand-in (standin/app-webhook.ts).
  NOTIFY_URL: 'https://twitch.test/_standin/app-webhook',
  NOTIFY_SECRET: 'test-notify-secret-0123456789abcdef0123',
} as const;

export const BROKER = 'https://broker.test';
export const APP_ORIGIN = 'https://app.example.com';
/** Scopes app, users and admin. */
export const API_KEY = 'test-api-key-0123456789abcdef';
/** Scope app only. */
export const APP_ONLY_API_KEY = 'second-api-key-0123456789abcdef';
/** Scope users only. */
export const USERS_ONLY_API_KEY = 'users-only-key-0123456789abcdef';
export const TWITCH = 'https://twitch.test';
/** Cloudflare's Analytics Engine SQL API, played by test/analytics-sql (the host selects it). */
export const ANALYTICS_SQL_HOST = 'cloudflare-api.test';
export const ANALYTICS_SQL = `https://${ANALYTICS_SQL_HOST}`;
/** The Cloudflare API token the console's metrics chart reads with (CF_ANALYTICS_TOKEN). */
export const ANALYTICS_TOKEN = 'test-analytics-token-0123456789abcdef';
