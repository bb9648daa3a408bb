import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Env } from '../src/env';
import { LOGIN_LIMIT } from '../src/http/login-rate-limiter';
import { API_KEY } from './test-bindings';
import { broker } from './support/broker';
import { startBurstInOneWindow } from './support/rate-window';
import { freshStateForEachTest } from './support/reset';

freshStateForEachTest();

const send = (path: string, ip: string, bindings: Env = env): Promise<Response> => broker(path, { headers: { 'CF-Connecting-IP': ip } }, bindings);

/** Sends `count` requests from one address and returns the statuses. */
async function burst(path: string, ip: string, count: number, bindings?: Env): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await send(path, ip, bindings)).status);
  return statuses;
}

describe.each([
  ['the Workers rate-limiting binding', () => env],
  ['the Durable Object fallback', () => ({ ...env, LOGIN_RATE_LIMITER: undefined }) as Env],
])('login rate limiting with %s', (_name, bindings) => {
  it('answers 429 with Retry-After once one address exceeds the limit, and spares other addresses', async () => {
    await startBurstInOneWindow();
    const ip = `198.51.100.${Math.floor(Math.random() * 200)}`;
    const statuses = await burst('/callback', ip, LOGIN_LIMIT, bindings());
    expect(statuses.every((status) => status === 400)).toBe(true); // no state: refused, but counted
    const limited = await send('/callback', ip, bindings());
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: 'rate_limited' });
    expect((await send('/authorize', `203.0.113.${Math.floor(Math.random() * 200)}`, bindings())).status).toBe(302);
  });

  it('counts an IPv6 client per /64, so rotating through its own prefix does not escape the limit', async () => {
    await startBurstInOneWindow();
    const group = Math.floor(Math.random() * 0xffff).toString(16);
    const prefix = `2001:db8:${group}:7`;
    const statuses: number[] = [];
    for (let i = 0; i <= LOGIN_LIMIT; i++) statuses.push((await send('/callback', `${prefix}::${(i + 1).toString(16)}`, bindings())).status);
    expect(statuses.slice(0, LOGIN_LIMIT).every((status) => status === 400)).toBe(true);
    expect(statuses[LOGIN_LIMIT]).toBe(429);
    // The compressed and the full spelling of an address in that /64 are the same client.
    expect((await send('/callback', `2001:0DB8:${group.padStart(4, '0')}:0007:0:0:0:ABCD`, bindings())).status).toBe(429);
    // The neighbouring /64 is another client.
    expect((await send('/callback', `2001:db8:${group}:8::1`, bindings())).status).toBe(400);
  });

  it('counts by CF-Connecting-IPv6 when Pseudo IPv4 gives every request another CF-Connecting-IP', async () => {
    await startBurstInOneWindow();
    const address = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:9::1`;
    // Cloudflare's Pseudo IPv4 maps IPv6 clients into 240.0.0.0/4, one stand-in address per request here.
    const pseudo = (i: number) => `240.${Math.floor(Math.random() * 250)}.${i % 250}.${Math.floor(Math.random() * 250)}`;
    const statuses: number[] = [];
    for (let i = 0; i <= LOGIN_LIMIT; i++) {
      statuses.push((await broker('/callback', { headers: { 'CF-Connecting-IP': pseudo(i), 'CF-Connecting-IPv6': address } }, bindings())).status);
    }
    expect(statuses.slice(0, LOGIN_LIMIT).every((status) => status === 400)).toBe(true);
    expect(statuses[LOGIN_LIMIT]).toBe(429);
  });
});

describe('POST /admin/sweep', () => {
  const forceSweep = (bindings: Env = env) => broker('/admin/sweep', { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } }, bindings);

  it('does not hold the next forced sweep back when one failed to start', async () => {
    const failed = await forceSweep({ ...env, TWITCH_CLIENT_SECRET: undefined } as Env);
    expect(failed.status).toBe(500);
    expect((await forceSweep()).status).toBe(200);
  });

  it('allows one forced sweep a minute and answers 429 with Retry-After to the next', async () => {
    expect((await forceSweep()).status).toBe(200);
    const again = await forceSweep();
    expect(again.status).toBe(429);
    const retryAfter = Number(again.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await again.json()).toMatchObject({ error: 'rate_limited' });
  });
});
