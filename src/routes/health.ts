import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { configurationProblems } from '../admin/broker-status';
import { getConfig } from '../config';
import type { AppEnv } from '../env';
import { eventSubSettings, type EventSubSettings } from '../eventsub/subscriptions';
import { healthBody } from '../openapi/bodies';
import { jsonResponse, noCredentials } from '../openapi/describe';

export const healthRoutes = new Hono<AppEnv>()
  /**
   * Liveness, plus the names (never values) of settings that are missing or malformed, and what is
   * wrong with each in `details`. Includes a key-rotation mistake that only storage can show.
   */
  .get(
    '/health',
    describeRoute({
      tags: ['meta'],
      security: noCredentials,
      summary: 'Liveness and configuration problems',
      responses: { 200: jsonResponse('always 200 while the Worker runs; `configuration` says whether settings are complete', healthBody) },
    }),
    async (c) => {
      const config = getConfig(c.env);
      const details = await configurationProblems(c.env);
      const problems = Object.keys(details);
      const eventSub: EventSubSettings = details.EVENTSUB_SECRET || details.PUBLIC_URL ? { enabled: false, reason: 'see problems' } : eventSubSettings(config);
      c.header('Cache-Control', 'no-store');
      return c.json({
        status: 'ok',
        // Public: SDKs and twurple need it, and Twitch shows it on every consent page anyway.
        client_id: details.TWITCH_CLIENT_ID ? null : config.clientId,
        configuration: problems.length === 0 ? 'complete' : 'incomplete',
        problems,
        ...(problems.length > 0 ? { details } : {}),
        eventsub: eventSub.enabled ? { enabled: true, callback: eventSub.callback } : { enabled: false, reason: eventSub.reason },
      });
    },
  );
