import * as z from 'zod/mini';
import { getConfig, type Config } from '../config';
import type { Env } from '../env';
import { logEvent } from '../log';
import { describeFailure, TwitchError } from '../twitch/twitch-error';
import { BACKGROUND_BUDGET, callTwitch } from '../twitch/twitch-fetch';
import { getAppToken } from '../vault/app-token-cache';
import { recordSubscriptionCheck } from './last-check';

/** The one event the broker subscribes to: a user disconnecting the app at Twitch. */
export const REVOKE_SUBSCRIPTION = { type: 'user.authorization.revoke', version: '1' } as const;

/** Whether EventSub is on, and where Twitch calls back; off says which setting is missing. */
export type EventSubSettings = { enabled: true; callback: string; secret: string } | { enabled: false; reason: string };

/** EventSub needs EVENTSUB_SECRET and PUBLIC_URL (the callback is `{PUBLIC_URL}/eventsub`). */
export function eventSubSettings(config: Config): EventSubSettings {
  const secret = config.eventSubSecret;
  if (!secret) return { enabled: false, reason: 'EVENTSUB_SECRET is not set' };
  const publicUrl = config.publicUrl;
  if (!publicUrl) return { enabled: false, reason: 'PUBLIC_URL is not set (Twitch calls {PUBLIC_URL}/eventsub)' };
  return { enabled: true, callback: `${publicUrl}/eventsub`, secret };
}

const subscriptionList = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      status: z.string(),
      type: z.string(),
      transport: z.object({ method: z.string(), callback: z.optional(z.string()) }),
    }),
  ),
});

/** What the hourly check of the subscription came to; a failure says why (never a secret). */
export type SubscriptionCheck = { outcome: 'off' | 'exists' | 'created' } | { outcome: 'failed'; reason: string };

/**
 * Keeps exactly one live webhook subscription to `user.authorization.revoke` for this broker's
 * callback: run hourly (and so after Twitch revoked one). Ours in a dead state (failed
 * verification, revoked) are deleted and created anew; a 409 means one exists already. A 401 means
 * Twitch may no longer take the app token the broker holds: the check asks the minter for a
 * checked one (it validates and mints only if Twitch calls the token dead) and runs once more.
 */
export async function ensureRevokeSubscription(env: Env, config: Config): Promise<SubscriptionCheck> {
  const settings = eventSubSettings(config);
  if (!settings.enabled) return { outcome: 'off' };
  for (const forceRefresh of [false, true]) {
    try {
      const appToken = await getAppToken(env, { forceRefresh });
      if (!appToken.ok) return { outcome: 'failed', reason: `no app token (minting failed; retry in ${appToken.retryAfterSeconds} s)` };
      return await keepSubscription(config, settings, appToken.token.accessToken);
    } catch (error) {
      if (!forceRefresh && error instanceof TwitchError && error.status === 401) continue;
      return { outcome: 'failed', reason: describeFailure(error) };
    }
  }
  return { outcome: 'failed', reason: 'Helix refused the app token twice' };
}

async function keepSubscription(config: Config, settings: EventSubSettings & { enabled: true }, appAccessToken: string): Promise<SubscriptionCheck> {
  const helix = (method: string, path: string, body?: unknown) => () =>
    new Request(`${config.apiBaseUrl}/helix/eventsub/subscriptions${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${appAccessToken}`,
        'Client-Id': config.clientId,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const listed = await callTwitch(helix('GET', `?type=${REVOKE_SUBSCRIPTION.type}`), BACKGROUND_BUDGET);
  const ours = (subscriptionList.safeParse(listed.body).data?.data ?? []).filter(
    (subscription) => subscription.transport.method === 'webhook' && subscription.transport.callback === settings.callback,
  );
  if (ours.some((subscription) => subscription.status === 'enabled' || subscription.status === 'webhook_callback_verification_pending')) {
    return { outcome: 'exists' };
  }
  for (const dead of ours) await callTwitch(helix('DELETE', `?id=${encodeURIComponent(dead.id)}`), BACKGROUND_BUDGET);
  try {
    await callTwitch(
      helix('POST', '', {
        ...REVOKE_SUBSCRIPTION,
        condition: { client_id: config.clientId },
        transport: { method: 'webhook', callback: settings.callback, secret: settings.secret },
      }),
      BACKGROUND_BUDGET,
    );
  } catch (error) {
    if (error instanceof TwitchError && error.status === 409) return { outcome: 'exists' };
    throw error;
  }
  logEvent('eventsub.subscribed', { type: REVOKE_SUBSCRIPTION.type });
  return { outcome: 'created' };
}

/** The cron's entry: logs and records the outcome for the console; a broken configuration is logged, not thrown. */
export async function runScheduledSubscriptionCheck(env: Env): Promise<void> {
  try {
    const check = await ensureRevokeSubscription(env, getConfig(env));
    if (check.outcome === 'off') return;
    if (check.outcome === 'failed') logEvent('eventsub.check_failed', { reason: check.reason });
    else logEvent('eventsub.check', { outcome: check.outcome });
    await recordSubscriptionCheck(env, { outcome: check.outcome, at: Date.now(), ...(check.outcome === 'failed' ? { detail: check.reason } : {}) }).catch(
      (error: unknown) => logEvent('eventsub.record_failed', { reason: describeFailure(error) }),
    );
  } catch (error) {
    // A broken configuration: the console shows the problem itself, and this line says the check did not run.
    logEvent('eventsub.check_failed', { reason: describeFailure(error) });
  }
}
