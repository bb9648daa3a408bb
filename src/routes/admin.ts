import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import { batchEvidenceJson } from '../admin/evidence-json';
import { requireApiKey } from '../auth/api-key';
import type { AppEnv } from '../env';
import { BrokerError } from '../errors';
import { userIdParam } from '../http/params';
import { validateInput } from '../http/validate-input';
import { sweepEvidenceBody, sweepReportBody, userEventsBody } from '../openapi/bodies';
import { errorResponse, jsonResponse, retryAfter } from '../openapi/describe';
import { runSweep } from '../sweep/sweep';
import { oneTimeStore, userDirectory, userVault } from '../vault/stubs';

/** At most one forced sweep this often. */
const FORCED_SWEEP_COOLDOWN_MS = 60_000;

export const adminRoutes = new Hono<AppEnv>()
  /**
   * Validates every stored token now (the cron's code path, forced). Answers with the counts of
   * the first batch; `remaining` users are worked through by the directory's alarm right after.
   */
  .post(
    '/admin/sweep',
    describeRoute({
      tags: ['admin'],
      summary: 'Validate every stored token now',
      responses: {
        200: jsonResponse('counts of the first batch', sweepReportBody),
        401: errorResponse({ unauthorized: 'missing or unknown API key' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `admin` scope' }),
        429: errorResponse({ rate_limited: 'a forced sweep ran less than a minute ago' }, retryAfter),
      },
    }),
    requireApiKey('admin'),
    async (c) => {
      // A forced sweep calls Twitch once per user: one a minute, however many admins or scripts ask.
      const cooldown = await (await oneTimeStore(c.env, 'cooldown:admin-sweep')).claim(FORCED_SWEEP_COOLDOWN_MS);
      if (!cooldown.ok) {
        throw new BrokerError(429, 'rate_limited', 'a forced sweep ran less than a minute ago; the hourly sweep keeps running meanwhile', {
          'Retry-After': String(Math.max(1, Math.ceil(cooldown.retryAfterMs / 1000))),
        });
      }
      // A sweep that failed to start does not hold the next one back.
      const report = await runSweep(c.env, { force: true }).catch(async (error: unknown) => {
        await (await oneTimeStore(c.env, 'cooldown:admin-sweep')).release();
        throw error;
      });
      c.header('Cache-Control', 'no-store');
      return c.json(report);
    },
  )

  /**
   * The sweep's evidence, newest batch first (the last 100): which moments each batch covered, its
   * counts, and the users it found revoked or could not validate. Routine validations are kept
   * here rather than in each user's trail.
   */
  .get(
    '/admin/sweep/evidence',
    describeRoute({
      tags: ['admin'],
      summary: "The sweep's evidence: what each of the last 100 batches covered and found",
      responses: {
        200: jsonResponse('the batches, newest first', sweepEvidenceBody),
        401: errorResponse({ unauthorized: 'missing or unknown API key' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `admin` scope' }),
      },
    }),
    requireApiKey('admin'),
    async (c) => {
      const batches = await userDirectory(c.env).evidence(100);
      c.header('Cache-Control', 'no-store');
      return c.json({
        batches: batches.map((batch) => ({
          ...batchEvidenceJson(batch),
          not_validated: batch.notValidated.map((entry) => {
            const [userId, outcome] = entry.split(':');
            return { user_id: userId, outcome };
          }),
        })),
      });
    },
  )

  /** A user's audit trail (logins, refreshes, validations, revocations), oldest first; no secrets. */
  .get(
    '/admin/users/:userId/events',
    describeRoute({
      tags: ['admin'],
      summary: "A user's audit trail",
      responses: {
        200: jsonResponse('the events, oldest first; no secrets', userEventsBody),
        401: errorResponse({ unauthorized: 'missing or unknown API key' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `admin` scope' }),
        404: errorResponse({ not_found: 'no record of this user' }),
      },
    }),
    requireApiKey('admin'),
    validateInput('param', userIdParam),
    async (c) => {
      const { userId } = c.req.valid('param');
      const events = await userVault(c.env, userId).events();
      if (!events) throw new BrokerError(404, 'not_found', 'this broker has no record of that user');
      c.header('Cache-Control', 'no-store');
      return c.json({
        user_id: userId,
        events: events.map((entry) => ({ at: new Date(entry.at).toISOString(), event: entry.event, ...(entry.detail ? { detail: entry.detail } : {}) })),
      });
    },
  );
