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
import { rateLimitKey } from '../src/http/client-address';
import { resolveReturnTo } from '../src/http/origins';
import { parseRfc3339 } from '../src/eventsub/message-time';
import { CODE_VERIFIER, verifierMatches } from '../src/http/pkce';
import { parseScopes } from '../src/http/scopes';
import { signSession, verifySession } from '../src/session/session-token';

/** Property-based tests for every parser that sees outside input: none throws, none lets junk through. */

const BROKER = 'https://broker.test';
const ALLOWED = new Set(['https://app.example.com', 'http://localhost:5173']);
const SECRET = 'property-test-session-secret-0123456789abcdef';
const KEY = [crypto.getRandomValues(new Uint8Array(32))];
const SCOPE = /^[A-Za-z0-9:_.-]{1,100}$/;

/** Strings that look like URLs, paths, and tricks around them. */
const urlish = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc
    .constantFrom('//', '/\\', 'javascript:', 'https://app.example.com@', 'HTTPS://APP.EXAMPLE.COM')
    .chain((prefix) => fc.string({ maxLength: 50 }).map((rest) => prefix + rest)),
);

describe('the login limit key', () => {
  const group = fc.integer({ min: 0, max: 0xffff });
  const groups = fc.array(group, { minLength: 8, maxLength: 8 });
  /** Spells eight groups the way clients do: full, without leading zeros, or with `::` for a zero run. */
  const spell = (parts: number[], style: number): string => {
    const hex = parts.map((part) => (style === 0 ? part.toString(16).padStart(4, '0') : part.toString(16)));
    const zeroRun = hex.findIndex((part, index) => /^0+$/.test(part) && /^0+$/.test(hex[index + 1] ?? ''));
    if (style !== 2 || zeroRun < 0) return hex.join(':');
    let end = zeroRun;
    while (end < 8 && /^0+$/.test(hex[end]!)) end++;
    return `${hex.slice(0, zeroRun).join(':')}::${hex.slice(end).join(':')}`;
  };

  it('puts every address of one IPv6 /64, however spelled, under one key, and neighbouring /64s under others', () => {
    fc.assert(
      fc.property(groups, groups, fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), (a, b, styleA, styleB) => {
        const sameNetwork = [...a.slice(0, 4), ...b.slice(4)];
        if (a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] === 0) return; // ::/64 holds the IPv4-mapped range
        expect(rateLimitKey(spell(sameNetwork, styleB))).toBe(rateLimitKey(spell(a, styleA)));
        const neighbour = [...a.slice(0, 3), (a[3]! + 1) % 0x10000, ...a.slice(4)];
        expect(rateLimitKey(spell(neighbour, styleA))).not.toBe(rateLimitKey(spell(a, styleA)));
      }),
    );
  });

  it('keeps IPv4 addresses apart, and counts IPv4-mapped IPv6 as the IPv4 address', () => {
    expect(rateLimitKey('198.51.100.7')).toBe('198.51.100.7');
    expect(rateLimitKey('198.51.100.8')).not.toBe(rateLimitKey('198.51.100.7'));
    expect(rateLimitKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(rateLimitKey(undefined)).toBe('unknown');
  });

  it('never throws on junk', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (raw) => {
        expect(typeof rateLimitKey(raw)).toBe('string');
      }),
    );
  });
});

describe('PKCE', () => {
  it('matches exactly the verifier whose SHA-256 is the challenge', async () => {
    const verifierArb = fc.stringMatching(/^[A-Za-z0-9\-._~]{43,128}$/);
    await fc.assert(
      fc.asyncProperty(verifierArb, verifierArb, async (verifier, other) => {
        expect(CODE_VERIFIER.test(verifier)).toBe(true);
        const challenge = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
        expect(await verifierMatches(verifier, challenge)).toBe(true);
        if (other !== verifier) expect(await verifierMatches(other, challenge)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });
});

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
      fc.property(fc.stringMatching(/^[A-Za-z0-9._~+/=-]{1,100}$/), (token) => {
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
    const names = [
      'TWITCH_CLIENT_ID',
      'TWITCH_AUTH_BASE_URL',
      'SESSION_SECRET',
      'TOKEN_ENCRYPTION_KEY',
      'API_KEYS',
      'ALLOWED_ORIGINS',
      'DEFAULT_SCOPES',
      'PUBLIC_URL',
      'LIVE_TOKEN_MAX_SOCKETS',
    ] as const;
    const getters = [
      'clientId',
      'authBaseUrl',
      'sessionSecret',
      'tokenKeys',
      'apiKeys',
      'allowedOrigins',
      'defaultScopes',
      'publicUrl',
      'liveTokenMaxSockets',
    ] as const;
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

describe('the EventSub message time (RFC 3339)', () => {
  const pad = (value: number) => String(value).padStart(2, '0');

  it('reads every instant as Twitch may write it: any fraction length, Z or any offset', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2999-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.stringMatching(/^[0-9]{0,6}$/),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.boolean(),
        (date, moreDigits, offsetMinutes, zulu) => {
          const wall = new Date(date.getTime() + (zulu ? 0 : offsetMinutes) * 60_000).toISOString().slice(0, 23);
          const zone = zulu ? 'Z' : `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offsetMinutes) / 60))}:${pad(Math.abs(offsetMinutes) % 60)}`;
          expect(parseRfc3339(`${wall}${moreDigits}${zone}`)).toBe(date.getTime());
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws, and reads nothing but the RFC 3339 shape', () => {
    const shape = /^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 64 }),
          fc.date({ noInvalidDate: true }).map((date) => date.toUTCString()),
        ),
        (text) => {
          const parsed = parseRfc3339(text);
          if (parsed !== null) expect(text).toMatch(shape);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
