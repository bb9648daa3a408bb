import type { Config } from '../config';
import type { Env } from '../env';
import { cachedAppTokenKeyId } from '../vault/app-token-cache';
import { configuredKeyIds, UNKNOWN_SEALING_KEY } from './seal';

/**
 * Key-rotation mistakes (a retired key that still sealed stored values) made visible in /health.
 * The sealed app token in KV is checked directly; a user's grant that failed to unseal leaves its
 * key id behind in KV. Key ids are hash prefixes of keys, never the keys.
 */

const MARKER_KEY = 'health:unsealable-key';
const MARKER_TTL_SECONDS = 7 * 24 * 3600;
/** One marker write per key id per isolate per minute, however many requests fail: KV writes are metered. */
const MARKER_WRITE_INTERVAL_MS = 60_000;
const lastMarkerWrites = new Map<string, number>();
/** /health is public: its storage check is answered from isolate memory for this long. */
const CHECK_MEMORY_MS = 30_000;
const recentChecks = new WeakMap<Config, { at: number; problem: string | null }>();

/** Whether an error is `unseal` meeting a value sealed with a key that is no longer configured. */
export const isUnknownSealingKey = (error: unknown): boolean => error instanceof Error && error.message.includes(UNKNOWN_SEALING_KEY);

/** Remembers the key id named in such an error, for /health. */
export async function noteUnknownSealingKey(env: Env, error: Error): Promise<void> {
  const keyId = error.message.match(/key id ([0-9a-f]{16})/)?.[1];
  const now = Date.now();
  if (!keyId || now - (lastMarkerWrites.get(keyId) ?? 0) < MARKER_WRITE_INTERVAL_MS) return;
  lastMarkerWrites.set(keyId, now);
  await env.APP_TOKEN_CACHE.put(MARKER_KEY, keyId, { expirationTtl: MARKER_TTL_SECONDS });
}

/** What is wrong with TOKEN_ENCRYPTION_KEY as storage shows it, or null. */
export async function sealingKeyProblem(env: Env, config: Config): Promise<string | null> {
  const now = Date.now();
  const recent = recentChecks.get(config);
  if (recent && now - recent.at < CHECK_MEMORY_MS) return recent.problem;
  const configured = new Set(await configuredKeyIds(config.tokenKeys));
  const [marker, appTokenKeyId] = await Promise.all([
    env.APP_TOKEN_CACHE.get(MARKER_KEY),
    // A cache entry that is not what we wrote says nothing about the keys.
    cachedAppTokenKeyId(env.APP_TOKEN_CACHE).catch(() => null),
  ]);
  const unknown = [marker, appTokenKeyId].find((keyId) => keyId !== null && !configured.has(keyId));
  const problem = unknown ? `stored tokens were sealed with a key it no longer holds (key id ${unknown}): list that key again after the new one` : null;
  recentChecks.set(config, { at: now, problem });
  return problem;
}
