import { env } from 'cloudflare:workers';
import { abortAllDurableObjects, listDurableObjectIds, runInDurableObject } from 'cloudflare:test';
import { beforeEach } from 'vitest';
import { forgetAppToken } from '../../src/vault/app-token-cache';
import { oneTimeStore } from '../../src/vault/stubs';
import { twitch } from './twitch';

/** Erases every object's storage and alarm in a namespace. */
async function eraseNamespace<T extends Rpc.DurableObjectBranded | undefined>(namespace: DurableObjectNamespace<T>): Promise<void> {
  // In parallel: the list grows with every object a file ever created, and one at a time it
  // came to seconds per test in the longer files.
  const ids = await listDurableObjectIds(namespace);
  await Promise.all(
    ids.map((id) =>
      runInDurableObject(namespace.get(id), async (_instance, ctx) => {
        await ctx.storage.deleteAlarm();
        await ctx.storage.deleteAll();
      }),
    ),
  );
}

/**
 * Every test starts from empty storage, fresh object instances, an empty KV, a cold isolate
 * cache and a fresh Twitch. (`reset()` from cloudflare:test leaves storage in place on this
 * runtime, so storage is erased object by object.)
 */
export function freshStateForEachTest(): void {
  beforeEach(resetAll);
}

/** Empties all storage, restarts every object, clears the isolate cache and resets Twitch. */
export async function resetAll(): Promise<void> {
  {
    await eraseNamespace(env.USER_VAULT);
    await eraseNamespace(env.APP_TOKEN_MINTER);
    await eraseNamespace(env.ONE_TIME_STORE);
    await eraseNamespace(env.USER_DIRECTORY);
    await eraseNamespace(env.DEVICE_FLOW);
    await abortAllDurableObjects();
    for (const { name } of (await env.APP_TOKEN_CACHE.list()).keys) await env.APP_TOKEN_CACHE.delete(name);
    forgetAppToken();
    await twitch.reset();
  }
}

/** Ends the one-a-minute cooldown of POST /admin/sweep, as if that minute had passed. */
export async function forgetForcedSweepCooldown(): Promise<void> {
  await runInDurableObject(await oneTimeStore(env, 'cooldown:admin-sweep'), async (_instance, ctx) => {
    await ctx.storage.deleteAlarm();
    await ctx.storage.deleteAll();
  });
}
