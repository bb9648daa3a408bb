import { env } from 'cloudflare:workers';
import { abortAllDurableObjects, evictDurableObject, listDurableObjectIds, reset, runInDurableObject } from 'cloudflare:test';
import { beforeEach } from 'vitest';
import { forgetAppToken } from '../../src/vault/app-token-cache';
import { oneTimeStore } from '../../src/vault/stubs';
import { twitch } from './twitch';

/**
 * Every test starts from empty storage, fresh object instances, an empty KV, a cold isolate
 * cache and a fresh Twitch.
 */
export function freshStateForEachTest(): void {
  beforeEach(resetAll);
}

/*
 * How the reset stays cheap. `reset()` (workerd's deleteAllDurableObjects) wipes the storage and
 * alarm of every object in memory and aborts them; an object that left memory keeps its storage.
 * Objects leave memory when a test aborts or evicts them, or after about 10 s idle (measured: 8 s
 * kept, 10 s gone). Waking every object ever created before each reset would catch those too, but
 * in this runtime every instance torn down makes each later cold start slower: a twelve-test file
 * that did so spent 0.4 s on its second reset and 30 s on its twelfth. So the whole namespace is
 * woken only when an object may have left memory: after a test that ran long enough, or that
 * aborted or evicted objects through the helpers below.
 */
const IDLE_EVICTION_SAFE_MS = 5_000;
let lastResetAt = Number.NEGATIVE_INFINITY;
let objectsLeftMemory = false;

/** Empties all storage, restarts every object, clears the isolate cache and resets Twitch. */
export async function resetAll(): Promise<void> {
  const sinceLastReset = Date.now() - lastResetAt;
  if (objectsLeftMemory || !(sinceLastReset >= 0 && sinceLastReset < IDLE_EVICTION_SAFE_MS)) await wakeEveryStoredObject();
  await reset();
  for (const { name } of (await env.APP_TOKEN_CACHE.list()).keys) await env.APP_TOKEN_CACHE.delete(name);
  forgetAppToken();
  await twitch.reset();
  objectsLeftMemory = false;
  lastResetAt = Date.now();
}

/** Brings every object that has storage on disk back into memory, where `reset()` reaches it. */
async function wakeEveryStoredObject(): Promise<void> {
  // Every Durable Object binding, so a class added later is not missed.
  // (Service bindings answer `in` for any name, so the runtime's class name decides, as in cloudflare:test.)
  const namespaces = Object.values(env).filter(
    (binding): binding is DurableObjectNamespace => binding instanceof Object && /^(?:Loopback)?DurableObjectNamespace$/.test(binding.constructor.name),
  );
  for (const namespace of namespaces) await wakeNamespace(namespace);
}

async function wakeNamespace<T extends Rpc.DurableObjectBranded | undefined>(namespace: DurableObjectNamespace<T>): Promise<void> {
  const ids = await listDurableObjectIds(namespace);
  await Promise.all(ids.map((id) => runInDurableObject(namespace.get(id), () => undefined)));
}

/** `abortAllDurableObjects()`, telling the next reset that aborted objects still hold storage. */
export async function abortEveryObject(): Promise<void> {
  objectsLeftMemory = true;
  await abortAllDurableObjects();
}

/** `evictDurableObject()`, telling the next reset that the evicted object still holds storage. */
export async function evictObject(stub: Parameters<typeof evictDurableObject>[0]): Promise<void> {
  objectsLeftMemory = true;
  await evictDurableObject(stub);
}

/** Ends the one-a-minute cooldown of POST /admin/sweep, as if that minute had passed. */
export async function forgetForcedSweepCooldown(): Promise<void> {
  await runInDurableObject(await oneTimeStore(env, 'cooldown:admin-sweep'), async (_instance, ctx) => {
    await ctx.storage.deleteAlarm();
    await ctx.storage.deleteAll();
  });
}
