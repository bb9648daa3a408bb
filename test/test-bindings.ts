/**
 * Settings the tests run with. The values are test-only; TWITCH_AUTH_BASE_URL's host is a name
 * nothing resolves: every outbound fetch goes to the local Twitch stand-in.
 */
export const TEST_BINDINGS = {
  TWITCH_CLIENT_ID: 'standin-client-id',
  TWITCH_CLIENT_SECRET: 'standin-client-secret',
  TWITCH_AUTH_BASE_URL: 'http://twitch.test',
  TWITCH_API_BASE_URL: 'http://twitch.test',
  SESSION_SECRET: 'test-session-secret-that-is-long-enough-0123456789',
  // 32 bytes, base64 (test-only).
  TOKEN_ENCRYPTION_KEY: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
  API_KEYS: 'test-api-key-0123456789abcdef,second-api-key-0123456789abcdef',
  ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173',
  DEFAULT_SCOPES: 'user:read:email',
  PUBLIC_URL: '',
} as const;

export const BROKER = 'https://broker.test';
export const APP_ORIGIN = 'https://app.example.com';
export const API_KEY = 'test-api-key-0123456789abcdef';
export const TWITCH = 'http://twitch.test';
