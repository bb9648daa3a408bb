import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { outcomeOf } from '../src/http/request-log';
import { API_KEY } from './test-bindings';
import { broker, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';

freshStateForEachTest();

/** What an operator reads in `wrangler tail` or Workers Logs: one JSON line per request. */

let lines: string[];
beforeEach(() => {
  lines = [];
  const original = console.log.bind(console);
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
    original(...args);
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

type RequestLine = { event: 'request'; method: string; route: string | null; status: number; outcome: string; durationMs: number; userId?: string };
const requestLines = () => lines.map((line) => JSON.parse(line) as { event: string }).filter((line): line is RequestLine => line.event === 'request');

describe('request log', () => {
  it('logs one line per request with method, route pattern, status, outcome and duration', async () => {
    await broker('/health');
    expect(requestLines()).toEqual([{ event: 'request', method: 'GET', route: '/health', status: 200, outcome: 'ok', durationMs: expect.any(Number) }]);
  });

  it('names the user on routes about one user, by pattern rather than URL', async () => {
    await broker('/token/users/424242', { headers: { Authorization: `Bearer ${API_KEY}` } });
    await broker('/token/users/424242', { headers: { Authorization: 'Bearer not-a-key' } });
    expect(requestLines()).toEqual([
      expect.objectContaining({ route: '/token/users/:userId', userId: '424242', status: 404, outcome: 'rejected' }),
      expect.objectContaining({ route: '/token/users/:userId', userId: '424242', status: 401, outcome: 'denied' }),
    ]);
  });

  it('keeps query strings out (codes, state, session codes) and caller input that is not an id', async () => {
    const { callbackUrl, location } = await login({ userId: '100001' });
    const code = callbackUrl.searchParams.get('code')!;
    const state = callbackUrl.searchParams.get('state')!;
    const sessionCode = location!.searchParams.get('session_code')!;
    await broker('/token/users/../../etc%2Fpasswd-or-a-pasted-secret', { headers: { Authorization: `Bearer ${API_KEY}` } });
    const logged = requestLines();
    expect(logged.map((line) => line.route)).toEqual(expect.arrayContaining(['/authorize', '/callback']));
    for (const line of lines) {
      for (const secret of [code, state, sessionCode, 'pasted-secret']) expect(line).not.toContain(secret);
    }
  });

  it('marks unknown paths with no route', async () => {
    await broker('/no/such/path');
    expect(requestLines()).toEqual([expect.objectContaining({ route: null, status: 404, outcome: 'rejected' })]);
  });

  it.each([
    [200, 'ok'],
    [302, 'ok'],
    [400, 'rejected'],
    [401, 'denied'],
    [403, 'denied'],
    [429, 'rate_limited'],
    [500, 'failed'],
    [502, 'failed'],
    [503, 'unavailable'],
  ])('groups status %i as %s', (status, outcome) => {
    expect(outcomeOf(status)).toBe(outcome);
  });
});
