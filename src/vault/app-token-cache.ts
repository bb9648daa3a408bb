import { getConfig } from '../config';
import { sealingKeyId, unseal } from '../crypto/seal';
import type { Env } from '../env';
import { appTokenMinter } from './stubs';
import { APP_TOKEN_SERVE_MARGIN_MS } from './timing';
import type { AppTokenResult } from './vault-types';

/**
 * The app token's read path: isolate memory, then KV, then the minter object. KV and memory are
 * caches; the minter's storage is the truth. Values in KV are sealed like everything else.
 */

interface CachedAppToken {
  sealedAccessToken: string;
  expiresAt: number;
}

const KV_KEY = 'app-token:v1';
/** What the app token is sealed for, in the minter's storage and in KV. */
export const APP_TOKEN_SEAL_PURPOSE = 'app:access';
/** KV refuses TTLs under 60 s. */
const KV_MIN_TTL_SECONDS = 60;
/** Re-read KV at least daily so a token replaced elsewhere is picked up. */
const KV_MAX_TTL_SECONDS = 24 * 3600;
/** How long an isolate trusts its memory before looking at KV again (KV's own edge cache is 60 s). */
const MEMORY_TTL_MS = 60_000;

let memory: { accessToken: string; expiresAt: number; freshUntil: number } | null = null;

/** Writes a freshly minted token to KV, expiring well before the token does. */
export async function publishAppToken(kv: KVNamespace, sealedAccessToken: string, expiresAt: number): Promise<void> {
  const secondsLeft = Math.floor((expiresAt - Date.now() - APP_TOKEN_SERVE_MARGIN_MS) / 1000);
  if (secondsLeft < KV_MIN_TTL_SECONDS) return;
  const value: CachedAppToken = { sealedAccessToken, expiresAt };
  await kv.put(KV_KEY, JSON.stringify(value), { expirationTtl: Math.min(secondsLeft, KV_MAX_TTL_SECONDS) });
  memory = null;
}

/** The id of the key the app token in KV is sealed with (for /health), or null when none is cached. */
export async function cachedAppTokenKeyId(kv: KVNamespace): Promise<string | null> {
  const cached = await kv.get<CachedAppToken>(KV_KEY, 'json');
  return cached ? sealingKeyId(cached.sealedAccessToken) : null;
}

/** Drops this isolate's memory of the token (after the sweep replaced it). */
export function forgetAppToken(): void {
  memory = null;
}

/**
 * The app token for a caller: memory, KV, or (on a miss) the minter, which mints at most once.
 * `forceRefresh` (the caller's Helix call got 401 with our token) skips memory and KV, which may
 * lag behind a replaced token, and asks the minter to check the token and mint only if it is dead.
 */
export async function getAppToken(env: Env, options: { forceRefresh?: boolean } = {}): Promise<AppTokenResult> {
  const keys = getConfig(env).tokenKeys; // a broken key fails here, clearly, even on a warm cache
  const now = Date.now();
  const servable = (expiresAt: number) => expiresAt - now > APP_TOKEN_SERVE_MARGIN_MS;
  if (!options.forceRefresh) {
    if (memory && memory.freshUntil > now && servable(memory.expiresAt)) {
      return { ok: true, token: { accessToken: memory.accessToken, expiresAt: memory.expiresAt } };
    }
    const cached = await env.APP_TOKEN_CACHE.get<CachedAppToken>(KV_KEY, 'json');
    if (cached && servable(cached.expiresAt)) {
      const accessToken = await unseal(cached.sealedAccessToken, APP_TOKEN_SEAL_PURPOSE, keys);
      memory = { accessToken, expiresAt: cached.expiresAt, freshUntil: now + MEMORY_TTL_MS };
      return { ok: true, token: { accessToken, expiresAt: cached.expiresAt } };
    }
  }
  const minter = appTokenMinter(env);
  const result = options.forceRefresh ? await minter.getTokenAfterRejection() : await minter.getToken();
  if (result.ok) memory = { ...result.token, freshUntil: now + MEMORY_TTL_MS };
  return result;
}
