import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import { bearerToken } from '../src/auth/session-auth';
import { getConfig } from '../src/config';
import { decodeBase64 } from '../src/crypto/encoding';
import { seal, unseal } from '../src/crypto/seal';
import type { Env } from '../src/env';
import { ConfigError } from '../src/errors';
import { resolveReturnTo } from '../src/http/origins';
import { parseScopes } from '../src/http/scopes';
import { signSession, verifySession } from '../src/session/session-token';

/** Property-based tests for every parser that sees outside input: none throws, none lets junk through. */

const BROKER = 'https://broker.test';
const ALLOWED = new Set(['https://app.example.com', 'http://localhost:5173']);
const SECRET = 'property-test-session-secret-0123456789abcdef';
const KEY = [crypto.getRandomValues(new Uint8Array(32))];
const SCOPE = /^[A-Za-z0-9:_.\-]{1,100}$/;

/** Strings that look like URLs, paths, and tricks around them. */
const urlish = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.constantFrom('//', '/\\', 'javascript:', 'https://app.example.com@', 'HTTPS://APP.EXAMPLE.COM').chain((prefix) =>
    fc.string({ maxLength: 50 }).map((rest) => prefix + rest),
  ),
);

describe('parsers never throw and never let junk through', () => {
  it('resolveReturnTo answers null or a URL on the broker or an allowed origin', () => {
    fc.assert(
      fc.property(urlish, (raw) => {
        const resolved = resolveReturnTo(raw, BROKER, ALLOWED);
        if (resolved === null) return;
        const url = new URL(resolved);
        expect(url.origin === BROKER || ALLOWED.has(url.origin)).toBe(true);
        expect(url.username + url.password).toBe('');
      }),
      { numRuns: 2000 },
    );
  });

  it('resolveReturnTo keeps every path on an allowed origin', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALLOWED), fc.webPath(), (origin, path) => {
        expect(resolveReturnTo(origin + path, BROKER, ALLOWED)).toBe(new URL(origin + path).href);
      }),
    );
  });

  it('parseScopes answers null or well-formed, unique scopes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (raw) => {
        const scopes = parseScopes(raw);
        if (scopes === null) return;
        expect(scopes.every((scope) => SCOPE.test(scope))).toBe(true);
        expect(new Set(scopes).size).toBe(scopes.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('parseScopes round-trips any list of valid scopes', () => {
    const scope = fc.stringMatching(/^[a-z][a-z:_]{0,30}$/);
    fc.assert(
      fc.property(fc.uniqueArray(scope, { maxLength: 20 }), (scopes) => {
        expect(parseScopes(scopes.join(' '))).toEqual(scopes);
      }),
    );
  });

  it('decodeBase64 answers null or bytes, and round-trips standard and URL-safe base64', () => {
    fc.assert(fc.property(fc.string(), (raw) => void decodeBase64(raw)));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const standard = btoa(String.fromCharCode(...bytes));
        expect(decodeBase64(standard)).toEqual(bytes);
        expect(decodeBase64(standard.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''))).toEqual(bytes);
      }),
    );
  });

  it('bearerToken extracts exactly one token, or nothing', () => {
    fc.assert(fc.property(fc.string(), (header) => void bearerToken(header)));
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._~+\/=-]{1,100}$/), (token) => {
        expect(bearerToken(`Bearer ${token}`)).toBe(token);
        expect(bearerToken(`bearer  ${token}`)).toBe(token);
        expect(bearerToken(`Bearer ${token} extra`)).toBeUndefined();
        expect(bearerToken(`Basic ${token}`)).toBeUndefined();
      }),
    );
  });

  it('verifySession answers null for any string that is not a session we signed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 500 }), fc.base64String()), async (token) => {
        expect(await verifySession(SECRET, token)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('verifySession accepts what signSession made, and nothing that differs by one character', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[0-9]{1,20}$/), fc.nat(1000), fc.nat(), async (userId, version, position) => {
        const { token } = await signSession(SECRET, userId, version);
        expect(await verifySession(SECRET, token)).toMatchObject({ userId, sessionVersion: version });
        const index = position % token.length;
        const flipped = token.slice(0, index) + (token[index] === 'A' ? 'B' : 'A') + token.slice(index + 1);
        if (flipped !== token) expect(await verifySession(SECRET, flipped)).toBeNull();
      }),
      { numRuns: 100 },
    );
  });

  it('seal and unseal round-trip any text, and refuse another purpose or any tampering', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), fc.nat(), async (plaintext, position) => {
        const sealed = await seal(plaintext, 'user:1:refresh', KEY);
        // A few characters can turn up inside base64 by chance; nine or more cannot, realistically.
        if (plaintext.length > 8) expect(sealed).not.toContain(plaintext);
        expect(await unseal(sealed, 'user:1:refresh', KEY)).toBe(plaintext);
        await expect(unseal(sealed, 'user:2:refresh', KEY)).rejects.toThrow();
        // Flip one bit of one byte of the ciphertext or the tag (not of the base64 padding bits).
        const parts = sealed.split('.');
        const part = plaintext.length > 0 && position % 2 === 0 ? 3 : 4;
        const bytes = base64url.decode(parts[part]!);
        bytes[position % bytes.length]! ^= 1 << (position % 8);
        parts[part] = base64url.encode(bytes);
        await expect(unseal(parts.join('.'), 'user:1:refresh', KEY)).rejects.toThrow();
      }),
      { numRuns: 100 },
    );
  });

  it('configuration parsing never throws, and a broken setting only throws a ConfigError naming it', () => {
    const names = ['TWITCH_CLIENT_ID', 'TWITCH_AUTH_BASE_URL', 'SESSION_SECRET', 'TOKEN_ENCRYPTION_KEY', 'API_KEYS', 'ALLOWED_ORIGINS', 'DEFAULT_SCOPES', 'PUBLIC_URL'] as const;
    const getters = ['clientId', 'authBaseUrl', 'sessionSecret', 'tokenKeys', 'apiKeys', 'allowedOrigins', 'defaultScopes', 'publicUrl'] as const;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: names.length - 1 }), fc.string({ maxLength: 200 }), (index, value) => {
        const name = names[index]!;
        const config = getConfig({ ...env, [name]: value } as Env);
        try {
          void config[getters[index]!];
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          expect((error as ConfigError).setting).toBe(name);
          // Short plain words ("is n", "URL ") occur in our fixed messages by chance and prove nothing;
          // a value with a character those messages never use, or a long one, must not be echoed.
          const couldBeOurWording = /^[A-Za-z0-9 #,.:()+\-/_]*$/.test(value) && value.length < 12;
          if (value.length >= 4 && !couldBeOurWording) expect((error as ConfigError).description).not.toContain(value);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
