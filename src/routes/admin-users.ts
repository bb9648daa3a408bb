import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as z from 'zod/mini';
import { brokerStatus, brokerStatusJson } from '../admin/broker-status';
import { complianceAttachment, complianceCsv, complianceJson, complianceReport, MAX_COMPLIANCE_HOURS } from '../admin/compliance';
import { adminUserJson, forceRefreshUser, getAdminUser, listAdminUsers } from '../admin/users';
import { requireApiKey } from '../auth/api-key';
import type { AppEnv } from '../env';
import { BrokerError, temporarilyUnavailable } from '../errors';
import { userIdParam } from '../http/params';
import { validateInput } from '../http/validate-input';
import { adminUserBody, adminUserPageBody, brokerStatusBody, complianceBody, forcedRefreshBody } from '../openapi/bodies';
import { errorResponse, jsonResponse, retryAfter } from '../openapi/describe';
import { PAGE_POSITION, parseSearch } from '../sweep/directory-listing';

/**
 * The admin console's data for scripts: the same operations as the console's pages (src/admin/),
 * behind an API key of scope `admin` sent as a bearer, like every admin route. Never a cookie.
 */

const usersQuery = z.object({
  q: z.optional(
    z
      .string()
      .check(
        z.regex(/^\s*[A-Za-z0-9_]{0,25}\s*$/, 'must be the start of a login or a user id'),
        z.describe('a login prefix (any case) or a user id; empty lists everyone by id'),
      ),
  ),
  after: z.optional(z.string().check(z.regex(PAGE_POSITION, 'must be the `next` of the previous page'), z.describe('the `next` of the previous page'))),
  limit: z.optional(z.string().check(z.regex(/^(?:[1-9][0-9]?|100)$/, 'must be 1 to 100'), z.describe('users per page, 1 to 100; default 25'))),
});

const complianceQuery = z.object({
  hours: z.optional(
    z
      .string()
      .check(
        z.regex(/^(?:[1-9]|1[0-9]|2[0-4])$/, `must be 1 to ${MAX_COMPLIANCE_HOURS}`),
        z.describe(`the window of batches to export, in hours (1 to ${MAX_COMPLIANCE_HOURS}); default 24. The verdict is always the last hour's`),
      ),
  ),
});

const adminErrors = {
  401: errorResponse({ unauthorized: 'missing or unknown API key' }),
  403: errorResponse({ insufficient_scope: 'the API key lacks the `admin` scope' }),
};

const csvResponse = (description: string) => ({ description, content: { 'text/csv': { schema: { type: 'string' as const } } } });

export const adminUserRoutes = new Hono<AppEnv>()
  /** Users, 25 a page by default: everyone by id, or those whose login starts with `q` (and the user whose id is `q`). */
  .get(
    '/admin/users',
    describeRoute({
      tags: ['admin'],
      summary: 'List or search users (login prefix or id), paged',
      responses: { 200: jsonResponse('one page; `next` continues it', adminUserPageBody), ...adminErrors },
    }),
    requireApiKey('admin'),
    validateInput('query', usersQuery),
    async (c) => {
      const query = c.req.valid('query');
      const search = parseSearch(query.q);
      if (search === 'invalid') throw new BrokerError(400, 'invalid_request', 'q: must be the start of a login or a user id');
      // A position from a search is `login:id`, from the full list an id: one from the other kind is refused.
      if (query.after !== undefined && query.after.includes(':') !== (search !== null)) {
        throw new BrokerError(400, 'invalid_request', 'after: must be the `next` of the previous page of this same search');
      }
      const page = await listAdminUsers(c.env, { search, after: query.after ?? null, limit: query.limit === undefined ? 25 : Number(query.limit) });
      c.header('Cache-Control', 'no-store');
      return c.json({ users: page.users.map(adminUserJson), next: page.next });
    },
  )

  /** One user: status, scopes, expiry, last validation and refresh. Never a token. */
  .get(
    '/admin/users/:userId',
    describeRoute({
      tags: ['admin'],
      summary: 'One user as an operator sees them (no token)',
      responses: { 200: jsonResponse('the user', adminUserBody), ...adminErrors, 404: errorResponse({ not_found: 'no record of this user' }) },
    }),
    requireApiKey('admin'),
    validateInput('param', userIdParam),
    async (c) => {
      const user = await getAdminUser(c.env, c.req.valid('param').userId);
      if (!user) throw new BrokerError(404, 'not_found', 'this broker has no record of that user');
      c.header('Cache-Control', 'no-store');
      return c.json(adminUserJson(user));
    },
  )

  /**
   * An operator's refresh: a new pair from Twitch now, whatever the token's age, through the user's
   * single flight; the replaced access token is revoked at Twitch. For a token you suspect (callers
   * whose Helix call got 401 use `force_refresh=true`, which checks first).
   */
  .post(
    '/admin/users/:userId/refresh',
    describeRoute({
      tags: ['admin'],
      summary: "Refresh a user's token now and revoke the replaced access token",
      responses: {
        200: jsonResponse('refreshed', forcedRefreshBody),
        ...adminErrors,
        404: errorResponse({ not_found: 'no record of this user' }),
        409: errorResponse({
          no_grant: 'the user holds no grant (revoked, logged out, dropped)',
          reauthorization_required: 'Twitch refused the refresh token just now',
        }),
        503: errorResponse({ temporarily_unavailable: 'Twitch failed recently or is not answering; nothing changed' }, retryAfter),
      },
    }),
    requireApiKey('admin'),
    validateInput('param', userIdParam),
    async (c) => {
      const { userId } = c.req.valid('param');
      const result = await forceRefreshUser(c.env, userId, c.get('apiCaller') ?? 'unknown');
      c.header('Cache-Control', 'no-store');
      switch (result.outcome) {
        case 'refreshed':
          return c.json({ user_id: userId, refreshed: true as const, expires_at: new Date(result.expiresAt).toISOString() });
        case 'not_found':
          throw new BrokerError(404, 'not_found', 'this broker has no record of that user');
        case 'no_grant':
          throw new BrokerError(409, 'no_grant', `the user holds no grant (${result.status})`);
        case 'revoked':
          throw new BrokerError(409, 'reauthorization_required', 'Twitch refused the refresh token: the user must log in again');
        case 'unavailable':
          throw temporarilyUnavailable(result.retryAfterSeconds);
      }
    },
  )

  /** The compliance evidence: the last hour's share of tokens in use validated, and the window's batches. */
  .get(
    '/admin/compliance.json',
    describeRoute({
      tags: ['admin'],
      summary: 'Compliance evidence (hourly validation) as JSON',
      responses: { 200: jsonResponse("the last hour's verdict and the window's batches", complianceBody), ...adminErrors },
    }),
    requireApiKey('admin'),
    validateInput('query', complianceQuery),
    async (c) => {
      const report = await complianceReport(c.env, Number(c.req.valid('query').hours ?? MAX_COMPLIANCE_HOURS));
      c.header('Cache-Control', 'no-store');
      return c.json(complianceJson(report));
    },
  )

  /** The window's sweep batches as CSV, one row each, for a spreadsheet or an auditor. */
  .get(
    '/admin/compliance.csv',
    describeRoute({
      tags: ['admin'],
      summary: "Compliance evidence: the window's sweep batches as CSV",
      responses: { 200: csvResponse('a header row, then one row per batch, newest first'), ...adminErrors },
    }),
    requireApiKey('admin'),
    validateInput('query', complianceQuery),
    async (c) => {
      const report = await complianceReport(c.env, Number(c.req.valid('query').hours ?? MAX_COMPLIANCE_HOURS));
      return c.body(complianceCsv(report), 200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': complianceAttachment(report, 'csv'),
        'Cache-Control': 'no-store',
      });
    },
  )

  /** The console's overview as JSON: settings, app token, EventSub, the sweep and its last batches. */
  .get(
    '/admin/status',
    describeRoute({
      tags: ['admin'],
      summary: "The broker's state for operators: settings, app token, EventSub, sweep",
      responses: { 200: jsonResponse('the state; no secret', brokerStatusBody), ...adminErrors },
    }),
    requireApiKey('admin'),
    async (c) => {
      c.header('Cache-Control', 'no-store');
      return c.json(brokerStatusJson(await brokerStatus(c.env)));
    },
  );
