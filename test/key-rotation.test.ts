import { env } from 'cloudflare:workers';
import { createExecutionContext, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import worker from '../src/index';
import type { Env } from '../src/env';
import { forgetAppToken } from '../src/vault/app-token-cache';
import { API_KEY, APP_ORIGIN, BROKER, TEST_BINDINGS } from './test-bindings';
import { login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { directory } from './support/seed';
import { twitch } from './support/twitch';

freshStateForEachTest();

const OLD_KEY = TEST_BINDINGS.TOKEN_ENCRYPTION_KEY;
const NEW_KEY = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const USERS = ['100001', '100002', '100003'];

/** The key id the broker gives a base64 key: the first 8 bytes of its SHA-256, in hex. */
async function keyId(base64Key: string): Promise<string> {
  const raw = Uint8Array.from(atob(base64Key), (char) => char.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
  return Array.from(digest.slice(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** "Redeploys" with TOKEN_ENCRYPTION_KEY set to `keys`: every live object and the Worker see it. */
async function deployKeys(keys: string): Promise<Env> {
  const rotated = { ...env, TOKEN_ENCRYPTION_KEY: keys } as Env;
  for (const namespace of [env.USER_VAULT, env.APP_TOKEN_MINTER, env.USER_DIRECTORY] as unknown as DurableObjectNamespace<Rpc.DurableObjectBranded>[]) {
    for (const id of await listDurableObjectIds(namespace)) {
      await runInDurableObject(namespace.get(id), (instance) => {
        (instance as unknown as { env: Env }).env = rotated;
      });
    }
  }
  forgetAppToken();
  return rotated;
}

async function call(bindings: Env, path: string, method = 'GET'): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${BROKER}${path}`, { method, headers: { Authorization: `Bearer ${API_KEY}` } }), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** The key ids of every sealed value in storage and KV. */
async function sealedKeyIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  const collect = (text: string) => {
    for (const match of text.matchAll(/eyJ[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g)) {
      ids.add(String(decodeProtectedHeader(match[0]).kid));
    }
  };
  for (const namespace of [env.USER_VAULT, env.APP_TOKEN_MINTER] as unknown as DurableObjectNamespace<Rpc.DurableObjectBranded>[]) {
    for (const id of await listDurableObjectIds(namespace)) {
      collect(await runInDurableObject(namespace.get(id), async (_instance, ctx) => JSON.stringify([...(await ctx.storage.list()).values()])));
    }
  }
  // The directory's copies of access tokens, in its SQL table.
  for (const id of await listDurableObjectIds(env.USER_DIRECTORY)) {
    collect(
      await runInDurableObject(env.USER_DIRECTORY.get(id), (_instance, ctx) =>
        JSON.stringify(ctx.storage.sql.exec('SELECT sealed_access FROM users').toArray()),
      ),
    );
  }
  for (const { name } of (await env.APP_TOKEN_CACHE.list()).keys) collect((await env.APP_TOKEN_CACHE.get(name)) ?? '');
  return ids;
}

/** The number of sealed access-token copies the directory holds. */
const directoryCopies = () =>
  runInDurableObject(directory(), (_instance, ctx) => ctx.storage.sql.exec<{ n: number }>('SELECT COUNT(sealed_access) AS n FROM users').one().n);

/** Makes every user owed a visit now and runs the directory's alarm once (not forced: copies are checked by the directory). */
async function routineSweepNow(): Promise<void> {
  await runInDurableObject(directory(), (_instance, ctx) => {
    ctx.storage.sql.exec('UPDATE users SET next_due_at = ?', Date.now());
  });
  expect(await runDurableObjectAlarm(directory())).toBe(true);
}

describe('rotating TOKEN_ENCRYPTION_KEY', () => {
  it('keeps every live user and the app token through new-key-first, re-seal, and retiring the old key', async () => {
    for (const userId of USERS) await login({ userId });
    expect((await call(env, '/token/app')).status).toBe(200);
    await routineSweepNow(); // the vaults hand the directory their copies, sealed with OLD
    expect(await directoryCopies()).toBe(USERS.length);
    expect(await sealedKeyIds()).toEqual(new Set([await keyId(OLD_KEY)]));

    // 1. Deploy NEW,OLD: everything still unseals; new writes use NEW.
    const both = await deployKeys(`${NEW_KEY},${OLD_KEY}`);
    for (const userId of USERS) expect((await call(both, `/token/users/${userId}`)).status).toBe(200);
    expect((await call(both, '/token/app')).status).toBe(200);

    // 2. A sweep validates everything and re-seals what was sealed with OLD.
    expect((await call(both, '/admin/sweep', 'POST')).status).toBe(200);
    expect(await sealedKeyIds()).toEqual(new Set([await keyId(NEW_KEY)]));

    // 3. Retire OLD: nobody is lost.
    const onlyNew = await deployKeys(NEW_KEY);
    for (const userId of USERS) {
      const response = await call(onlyNew, `/token/users/${userId}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ user_id: userId });
    }
    expect((await call(onlyNew, '/token/app')).status).toBe(200);
  });

  it('re-seals every grant, refresh tokens included, on one routine sweep: the old key can go after it', async () => {
    for (const userId of USERS) await login({ userId });
    await routineSweepNow();
    expect(await directoryCopies()).toBe(USERS.length);
    const both = await deployKeys(`${NEW_KEY},${OLD_KEY}`);
    await routineSweepNow();
    // A copy sealed with OLD goes back to its vault, which re-seals its grant and hands over a new copy.
    expect(await sealedKeyIds()).toEqual(new Set([await keyId(NEW_KEY)]));
    const copies = await runInDurableObject(directory(), (_instance, ctx) =>
      ctx.storage.sql.exec<{ sealed_access: string }>('SELECT sealed_access FROM users').toArray(),
    );
    expect(new Set(copies.map((row) => String(decodeProtectedHeader(row.sealed_access).kid)))).toEqual(new Set([await keyId(NEW_KEY)]));
    for (const userId of USERS) expect((await call(both, `/token/users/${userId}`)).status).toBe(200);

    // OLD retired: each refresh token must unseal with NEW alone.
    const onlyNew = await deployKeys(NEW_KEY);
    for (const userId of USERS) {
      await twitch.expire({ user_id: userId });
      expect((await call(onlyNew, `/token/users/${userId}?force_refresh=true`)).status).toBe(200);
    }
  });

  it('shows a key-rotation mistake in /health and answers a clear error, without losing the grant', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 120 }); // the next /token must unseal the refresh token
    await login({ userId: '100001' }); // no app token in KV: only the failed unseal can tell /health

    // The old key is retired before anything was re-sealed with the new one.
    const onlyNew = await deployKeys(NEW_KEY);
    const response = await call(onlyNew, '/token/users/100001');
    expect(response.status).toBe(500);
    const body = await response.json<{ error: string; error_description: string }>();
    expect(body.error).toBe('server_misconfigured');
    expect(body.error_description).toContain('TOKEN_ENCRYPTION_KEY');
    const health = await (await call(onlyNew, '/health')).json<{ configuration: string; problems: string[] }>();
    expect(health).toMatchObject({ configuration: 'incomplete', problems: ['TOKEN_ENCRYPTION_KEY'] });

    // Putting the old key back heals everything: nothing was thrown away.
    const fixed = await deployKeys(`${NEW_KEY},${OLD_KEY}`);
    expect((await call(fixed, '/token/users/100001')).status).toBe(200);
    expect((await (await call(fixed, '/health')).json<{ problems: string[] }>()).problems).toEqual([]);
  });

  it('shows an app token sealed with a retired key in /health before any request fails', async () => {
    expect((await call(env, '/token/app')).status).toBe(200);
    const onlyNew = await deployKeys(NEW_KEY);
    const health = await (await call(onlyNew, '/health')).json<{ problems: string[]; details: Record<string, string> }>();
    expect(health.problems).toEqual(['TOKEN_ENCRYPTION_KEY']);
    expect(health.details.TOKEN_ENCRYPTION_KEY).toContain(await keyId(OLD_KEY));
    expect(JSON.stringify(health)).not.toContain(OLD_KEY);
  });

  it('answers /health without a key problem when the app-token cache holds something the broker did not write', async () => {
    await env.APP_TOKEN_CACHE.put('app-token:v1', 'not json {');
    const response = await call(env, '/health');
    expect(response.status).toBe(200);
    expect((await response.json<{ problems: string[] }>()).problems).toEqual([]);
  });

  it('logs a user out even when no configured key unseals their grant (a key-rotation mistake)', async () => {
    const { jar } = await login({ userId: '100001' });
    const onlyNew = await deployKeys(NEW_KEY);
    const response = await jar.fetch('/logout', { method: 'POST', headers: { Origin: APP_ORIGIN } }, onlyNew);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ logged_out: true });
    expect((await call(onlyNew, '/token/users/100001')).status).toBe(404);
  });
});
