import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Env } from '../src/env';
import { BrokerError } from '../src/errors';
import { helixTarget, helixWriteAllowed } from '../src/helix/proxy-target';
import { APP_ONLY_API_KEY } from './test-bindings';
import { broker } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

/** Pieces attackers spell paths with: dot segments in every encoding, slashes, backslashes, controls. */
const piece = fc.constantFrom(
  '/',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2e%2e',
  '.%2e',
  '%5c',
  '%5C',
  '\\',
  '%2f',
  '%2F',
  '%09',
  '%0a',
  '%0d',
  '%00',
  '\t',
  '\n',
  '%252e',
  '%25',
  ';',
  '?',
  '#',
  '@',
  ':',
  ' ',
  '//',
  'eventsub',
  'subscriptions',
  'oauth2',
  'validate',
  'chat',
  'messages',
  'users',
  'moderation',
  'bans',
  '%75sers',
  '..;',
  '.%09.',
  'x',
);
const hostilePath = fc.array(piece, { minLength: 1, maxLength: 12 }).map((pieces) => `/helix/${pieces.join('')}`);
const ALLOW = [{ method: 'POST', prefix: '/chat/messages' }];
const API_BASES = ['https://api.twitch.tv', 'http://127.0.0.1:8789', 'https://gateway.example.com/twitch'];

/** The request URL a Worker would see for this path (the runtime parses it first, as here). */
const requestUrl = (path: string) => new Request(`https://broker.test${path}`).url;

describe('the Helix proxy target (property)', () => {
  it('either refuses with a 400, or sends a path below /helix/ that fetch will not re-read differently', () => {
    fc.assert(
      fc.property(hostilePath, fc.constantFrom(...API_BASES), (path, base) => {
        let url: URL;
        try {
          url = helixTarget(requestUrl(path), base).url;
        } catch (error) {
          if (error instanceof TypeError) return; // new Request() itself refused the spelling
          expect(error).toBeInstanceOf(BrokerError);
          expect((error as BrokerError).status).toBe(400);
          return;
        }
        const basePath = new URL(base).pathname.replace(/\/+$/, '');
        expect(url.origin).toBe(new URL(base).origin);
        expect(url.pathname.startsWith(`${basePath}/helix/`)).toBe(true);
        // What fetch does with the URL: parse it again. Nothing may move.
        expect(new URL(url.href).pathname).toBe(url.pathname);
        expect(url.pathname).not.toMatch(/(^|\/)\.\.?(\/|$)|%2e|%2f|%5c|\\/i);
      }),
      { numRuns: 2000 },
    );
  });

  it('applies the allowlist to the path actually sent', () => {
    fc.assert(
      fc.property(hostilePath, (path) => {
        let target;
        try {
          target = helixTarget(requestUrl(path), 'https://api.twitch.tv');
        } catch {
          return;
        }
        if (helixWriteAllowed({ helixProxyAllow: ALLOW }, 'POST', target.path)) {
          expect(target.url.pathname === '/helix/chat/messages' || target.url.pathname.startsWith('/helix/chat/messages/')).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the Helix proxy end to end (property)', () => {
  it('never lets a call leave for a path outside /helix/, nor a write outside HELIX_PROXY_ALLOW', async () => {
    const bindings = { ...env, HELIX_PROXY_ALLOW: 'POST /chat/messages' } as Env;
    await twitch.eventsub.delivery('outbox');
    await fc.assert(
      fc.asyncProperty(hostilePath, fc.constantFrom('GET', 'POST'), async (path, method) => {
        let request: string;
        try {
          request = new URL(requestUrl(path)).pathname + new URL(requestUrl(path)).search;
        } catch {
          return;
        }
        const response = await broker(
          request,
          {
            method,
            headers: { Authorization: `Bearer ${APP_ONLY_API_KEY}`, 'Content-Type': 'application/json' },
            ...(method === 'POST' ? { body: '{}' } : {}),
          },
          bindings,
        );
        expect(response.status).not.toBeGreaterThanOrEqual(500);
      }),
      { numRuns: 150 },
    );
    const sent = await twitch.apiCalls();
    // Plain spellings (e.g. /helix/users) do go through: the property is not vacuous.
    expect(sent.length).toBeGreaterThan(0);
    for (const call of sent) {
      const target = new URL(call.target, 'http://twitch.test');
      expect(target.pathname.startsWith('/helix/'), call.target).toBe(true);
      if (call.method !== 'GET') expect(target.pathname.startsWith('/helix/chat/messages'), call.target).toBe(true);
    }
    expect((await twitch.eventsub.subscriptions()).length).toBe(0);
  });
});
