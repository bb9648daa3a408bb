import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as z from 'zod/mini';
import { getConfig } from '../config';
import type { AppEnv } from '../env';
import { BrokerError, invalidRequest } from '../errors';
import { eventSubSignatureValid } from '../eventsub/signature';
import { lastSubscriptionCheck, recordSubscriptionCheck } from '../eventsub/last-check';
import { parseRfc3339 } from '../eventsub/message-time';
import { eventSubSettings, REVOKE_SUBSCRIPTION } from '../eventsub/subscriptions';
import { logEvent } from '../log';
import { errorResponse, noCredentials } from '../openapi/describe';
import { oneTimeStore, userVault } from '../vault/stubs';

/** Twitch's replay rule: messages older than this are refused. */
const MAX_MESSAGE_AGE_MS = 10 * 60_000;
/** Message ids are remembered a little longer than a message may be old, so a replay is always caught. */
const SEEN_MESSAGE_TTL_MS = MAX_MESSAGE_AGE_MS + 60_000;

const forbidden = (description: string) => new BrokerError(403, 'forbidden', description);

const messageBody = z.object({
  subscription: z.object({ type: z.string(), status: z.optional(z.string()) }),
  challenge: z.optional(z.string().check(z.maxLength(1000))),
  event: z.optional(z.object({ user_id: z.optional(z.nullable(z.string())), client_id: z.optional(z.string()) })),
});

export const eventSubRoutes = new Hono<AppEnv>()
  /**
   * Twitch's webhook callback. Unverifiable messages (bad signature, too old, missing headers, a
   * timestamp that is not RFC 3339) get 403 and change nothing; a verified message is handled once
   * (ids are remembered), and answered at once: the only work is one vault call.
   */
  .post(
    '/eventsub',
    describeRoute({
      tags: ['meta'],
      security: noCredentials,
      summary: "Twitch's EventSub webhook callback (user.authorization.revoke)",
      description:
        'Called by Twitch, not by apps. Messages are verified with the `Twitch-Eventsub-Message-Signature` HMAC over id, timestamp and body (EVENTSUB_SECRET).',
      parameters: ['Id', 'Timestamp', 'Type', 'Signature'].map((name) => ({
        in: 'header',
        name: `Twitch-Eventsub-Message-${name}`,
        required: true,
        schema: { type: 'string' },
      })),
      responses: {
        200: { description: 'a `webhook_callback_verification`: the bare challenge', content: { 'text/plain': { schema: { type: 'string' } } } },
        204: { description: 'a notification or revocation, handled (or seen before)' },
        400: errorResponse({ invalid_request: 'a verified message that is not JSON, has no subscription, or (a verification) has no challenge' }),
        403: errorResponse({ forbidden: 'missing headers, a timestamp that is not RFC 3339, a bad signature, or a message over 10 minutes old' }),
        404: errorResponse({ not_found: 'EventSub is off (EVENTSUB_SECRET or PUBLIC_URL not set)' }),
      },
    }),
    async (c) => {
      const config = getConfig(c.env);
      const settings = eventSubSettings(config);
      if (!settings.enabled) throw new BrokerError(404, 'not_found', `EventSub is off: ${settings.reason}`);

      const id = c.req.header('Twitch-Eventsub-Message-Id') ?? '';
      const timestamp = c.req.header('Twitch-Eventsub-Message-Timestamp') ?? '';
      const type = c.req.header('Twitch-Eventsub-Message-Type') ?? '';
      const signature = c.req.header('Twitch-Eventsub-Message-Signature') ?? '';
      if (!/^[A-Za-z0-9_-]{1,100}$/.test(id) || timestamp.length > 64 || !type) throw forbidden('not a Twitch EventSub message');
      // Strictly, before the signature: the time a valid signature vouches for must be the one the text says.
      const sentAt = parseRfc3339(timestamp);
      if (sentAt === null) throw forbidden('the message timestamp is not an RFC 3339 date-time');
      const body = await c.req.text();
      if (!(await eventSubSignatureValid(settings.secret, { id, timestamp, body }, signature))) throw forbidden('the signature does not match');
      if (Math.abs(Date.now() - sentAt) > MAX_MESSAGE_AGE_MS) throw forbidden('the message is more than 10 minutes old');

      let parsed;
      try {
        parsed = messageBody.safeParse(JSON.parse(body));
      } catch {
        throw invalidRequest('the message is not JSON');
      }
      if (!parsed.success) throw invalidRequest('the message has no subscription');
      const message = parsed.data;

      if (type === 'webhook_callback_verification') {
        if (!message.challenge) throw invalidRequest('the verification has no challenge');
        logEvent('eventsub.verified', { type: message.subscription.type });
        return c.text(message.challenge, 200, { 'Content-Type': 'text/plain' });
      }

      // Delivery is at least once: a message id seen before was handled before.
      const seen = await oneTimeStore(c.env, `eventsub:${id}`);
      if (!(await seen.claim(SEEN_MESSAGE_TTL_MS)).ok) return c.body(null, 204);
      try {
        if (type === 'revocation') {
          // The hourly check subscribes again; till then the console says why it is gone.
          const status = /^[a-z_]{1,64}$/.test(message.subscription.status ?? '') ? message.subscription.status! : 'unknown';
          logEvent('eventsub.subscription_revoked', { type: message.subscription.type, status });
          // Only a note for the console: a KV hiccup must not make Twitch deliver this again.
          // A revocation sent before the last check (delivered late) says nothing about the subscription that check left.
          if (message.subscription.type === REVOKE_SUBSCRIPTION.type) {
            const lastCheckedAt = (await lastSubscriptionCheck(c.env).catch(() => null))?.at ?? 0;
            if (lastCheckedAt <= sentAt) await recordSubscriptionCheck(c.env, { outcome: 'revoked', at: sentAt, detail: status }).catch(() => undefined);
          }
        } else if (type === 'notification' && message.subscription.type === REVOKE_SUBSCRIPTION.type) {
          const userId = message.event?.user_id;
          if (message.event?.client_id === config.clientId && userId && /^[0-9]{1,20}$/.test(userId)) {
            // A revoke sent before the user's current grant was made is about an older one: the vault checks instead.
            const outcome = await userVault(c.env, userId).revokedAtTwitch('EventSub user.authorization.revoke', sentAt);
            logEvent('eventsub.user_revoked', { userId, known: outcome !== 'not_found', ...(outcome === 'kept' ? { kept: true } : {}) });
          }
        }
      } catch (error) {
        // Not handled: let Twitch deliver it again.
        await seen.release();
        throw error;
      }
      return c.body(null, 204);
    },
  );
