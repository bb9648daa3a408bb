import * as z from 'zod/mini';
import type { Env } from '../env';

/**
 * The last word on the revoke subscription, for the operator's console and `/admin/status`: the
 * hourly check's outcome, or Twitch revoking the subscription in between. Kept in the KV namespace
 * the broker already has (one write an hour; a miss or junk reads as "not checked yet").
 */
const lastCheck = z.object({
  outcome: z.enum(['exists', 'created', 'failed', 'revoked']),
  at: z.number(),
  /** Why a check failed (kind, status, Twitch's message) or the status Twitch revoked it with. Never a secret. */
  detail: z.optional(z.string()),
});
export type SubscriptionLastCheck = z.infer<typeof lastCheck>;

const KV_KEY = 'eventsub:last-check:v1';

export async function recordSubscriptionCheck(env: Env, check: SubscriptionLastCheck): Promise<void> {
  await env.APP_TOKEN_CACHE.put(KV_KEY, JSON.stringify(check));
}

export async function lastSubscriptionCheck(env: Env): Promise<SubscriptionLastCheck | null> {
  const stored = await env.APP_TOKEN_CACHE.get(KV_KEY, 'text');
  if (stored === null) return null;
  try {
    return lastCheck.safeParse(JSON.parse(stored)).data ?? null;
  } catch {
    return null;
  }
}
