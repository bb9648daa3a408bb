import { afterAll, beforeAll, expect } from 'vitest';
import { ANALYTICS_TOKEN, API_KEY, APP_ONLY_API_KEY, TEST_BINDINGS, USERS_ONLY_API_KEY } from '../test-bindings';
import { twitch } from './twitch';

/**
 * Runs in every workers test file: captures everything written to the console (the broker's
 * Durable Objects run in the same isolate) and, after the file's tests, checks that no line
 * holds any secret: every token, code and client secret the Twitch stand-in ever issued, and the
 * broker's own keys.
 */
const captured: string[] = [];
const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;

beforeAll(() => {
  for (const method of methods) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      captured.push(args.map((arg) => (typeof arg === 'string' ? arg : safeStringify(arg))).join(' '));
      original(...args);
    };
  }
});

afterAll(async () => {
  const secrets = [
    ...(await twitch.secrets()),
    TEST_BINDINGS.SESSION_SECRET,
    TEST_BINDINGS.TOKEN_ENCRYPTION_KEY,
    TEST_BINDINGS.TWITCH_CLIENT_SECRET,
    API_KEY,
    APP_ONLY_API_KEY,
    USERS_ONLY_API_KEY,
    ANALYTICS_TOKEN,
  ];
  const leaks = captured.filter((line) => secrets.some((secret) => secret.length >= 8 && line.includes(secret)));
  expect(leaks, 'log lines holding a secret').toEqual([]);
});

function safeStringify(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ''}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
