import * as z from 'zod/mini';
import type { AdminUserBody } from '../admin/users';
import type { BrokerStatusBody } from '../admin/broker-status';
import type { ComplianceBody } from '../admin/compliance';
import type { ImportOutcome } from '../routes/import';
import type { SweepReport } from '../sweep/sweep';
import { SWEEP_OUTCOMES, type SweepOutcome } from '../sweep/sweep-counts';
import type { AppTokenBody, UserTokenBody } from '../tokens/token-answers';
import type { AuditEventName } from '../vault/audit-trail';

/**
 * The JSON bodies the broker answers with, as schemas for /openapi.json. They describe output
 * only (input schemas live beside their routes and validate too). The type checks at the bottom
 * tie each schema to the TypeScript type its route returns, so a field added to one and not the
 * other fails `npm run typecheck`.
 */

/** Names the schema in the document (`#/components/schemas/<id>`). */
const named = <Schema extends z.ZodMiniType>(schema: Schema, id: string, description: string): Schema => schema.check(z.meta({ id, description }));

const describe = <Schema extends z.ZodMiniType>(schema: Schema, description: string): Schema => schema.check(z.describe(description));

const unixSeconds = (description: string) => describe(z.int(), `${description} (Unix seconds)`);

export const errorBody = named(
  z.object({
    error: describe(z.string(), 'a stable code; each operation lists the codes it answers with at each status'),
    error_description: describe(z.string(), 'for humans; never carries a secret'),
  }),
  'Error',
  'Every error the broker answers with. Some codes add fields (see InsufficientScopeError).',
);

export const insufficientScopeBody = named(
  z.object({
    error: describe(z.enum(['insufficient_scope']), 'always insufficient_scope'),
    error_description: z.string(),
    missing_scopes: describe(z.array(z.string()), 'the requested scopes the stored grant lacks'),
    authorize_url: describe(z.string(), "this broker's /authorize asking for the stored and the missing scopes: send the user there"),
  }),
  'InsufficientScopeError',
  "The user's grant lacks a scope the caller asked for with `scope=`.",
);

/** A 403 for two reasons: the API key lacks the route's scope, or the grant lacks a requested scope (with its extra fields). */
export const scopeRefusedBody = z.union([
  insufficientScopeBody,
  z.object({ error: describe(z.enum(['insufficient_scope']), "the API key lacks the route's scope"), error_description: z.string() }),
]);

export const userTokenBody = named(
  z.object({
    access_token: z.string(),
    token_type: z.enum(['bearer']),
    expires_in: describe(z.int(), 'seconds left'),
    expires_at: unixSeconds('when the access token expires'),
    obtained_at: unixSeconds('when Twitch issued this access token'),
    scopes: describe(z.array(z.string()), 'the scopes of the stored grant'),
    user_id: z.string(),
    login: z.string(),
    client_id: describe(z.string(), 'the Twitch client id the token belongs to (Helix wants it as Client-Id)'),
  }),
  'UserToken',
  "A user's Twitch access token, refreshed when needed.",
);

export const appTokenBody = named(
  z.object({
    access_token: z.string(),
    token_type: z.enum(['bearer']),
    expires_in: describe(z.int(), 'seconds left'),
    expires_at: unixSeconds('when the access token expires'),
    client_id: z.string(),
  }),
  'AppToken',
  'The Twitch app access token (client credentials).',
);

export const healthBody = named(
  z.object({
    status: z.enum(['ok']),
    client_id: describe(z.nullable(z.string()), 'null while TWITCH_CLIENT_ID is missing or malformed'),
    configuration: z.enum(['complete', 'incomplete']),
    problems: describe(z.array(z.string()), 'names (never values) of settings that are missing or malformed'),
    details: z.optional(describe(z.record(z.string(), z.string()), 'what is wrong with each setting in problems')),
    eventsub: describe(
      z.union([z.object({ enabled: z.literal(true), callback: z.string() }), z.object({ enabled: z.literal(false), reason: z.string() })]),
      'whether the EventSub webhook is on (with the callback Twitch calls) or why it is off',
    ),
  }),
  'Health',
  'Liveness and configuration problems.',
);

export const sessionBody = named(
  z.object({
    session_token: describe(z.string(), 'send as Authorization: Bearer <session_token> to /token'),
    token_type: z.enum(['bearer']),
    expires_in: z.int(),
    user_id: z.string(),
  }),
  'Session',
  'A bearer session for a frontend on another site.',
);

export const loggedOutBody = named(z.object({ logged_out: z.literal(true) }), 'LoggedOut', 'The grant is revoked and forgotten.');
export const sessionsRevokedBody = named(z.object({ sessions_revoked: z.literal(true) }), 'SessionsRevoked', 'Every session of the user has ended.');

/** One count per sweep outcome (src/sweep/sweep-counts.ts), in its order. */
const outcomeCountsShape = Object.fromEntries(SWEEP_OUTCOMES.map((outcome) => [outcome, z.int()])) as Record<SweepOutcome, ReturnType<typeof z.int>>;

export const sweepReportBody = named(
  z.object({
    app: describe(z.enum(['valid', 'minted', 'failed']), 'what the check of the app token came to'),
    ...outcomeCountsShape,
    remaining: describe(z.int(), 'users still due after this batch; the sweep works through them within minutes'),
  }),
  'SweepReport',
  'Counts of the first batch of a forced sweep.',
);

const auditEventNames = [
  'logged_in',
  'login_kept_grant',
  'refreshed',
  'refresh_forced',
  'refresh_failed',
  'validated',
  'validate_failed',
  'revoked',
  'sessions_revoked',
  'logged_out',
  'deleted',
] as const satisfies readonly AuditEventName[];

export const userEventsBody = named(
  z.object({
    user_id: z.string(),
    events: z.array(
      z.object({
        at: z.iso.datetime(),
        event: z.enum(auditEventNames),
        detail: z.optional(describe(z.string(), 'a secret-free reason')),
      }),
    ),
  }),
  'UserEvents',
  "A user's audit trail, oldest first.",
);

export const deletedBody = named(
  z.object({ deleted: z.literal(true) }),
  'Deleted',
  "The user's tokens are revoked at Twitch, the grant forgotten, sessions ended.",
);

export const importReportBody = named(
  z.object({
    imported: z.array(z.object({ user_id: z.string(), login: z.string(), scopes: z.array(z.string()) })),
    failed: z.array(
      z.object({
        index: describe(z.int(), 'position of the token in the request'),
        error: z.enum(['invalid_grant', 'not_this_client', 'narrower_than_stored', 'identity_mismatch', 'temporarily_unavailable', 'import_failed']),
        error_description: z.string(),
      }),
    ),
  }),
  'ImportReport',
  'Who was moved in, and which tokens failed (by their position in the request).',
);

export const deviceStartBody = named(
  z.object({
    user_code: describe(z.string(), 'show it to the user, who enters it at verification_uri'),
    verification_uri: z.string(),
    expires_in: describe(z.int(), 'seconds the code stays valid'),
    interval: describe(z.int(), 'seconds to wait between polls'),
    poll_token: describe(z.string(), 'send to POST /device/poll; the device code itself stays in the broker'),
  }),
  'DeviceLogin',
  'A device-code login started for a headless bot.',
);

/** `POST /device`'s answer, for the scripts and tests that read it. */
export type DeviceStartedBody = z.infer<typeof deviceStartBody>;

export const deviceAuthorizedBody = named(
  z.object({
    user_id: z.string(),
    login: z.string(),
    scopes: describe(z.array(z.string()), 'the scopes this login was granted'),
    grant_kept: z.optional(describe(z.literal(true), 'the stored grant had a scope this login lacks and was kept: the new tokens were revoked')),
    stored_scopes: z.optional(describe(z.array(z.string()), 'with grant_kept: the scopes of the grant the broker kept, the ones its tokens carry')),
    authorize_url: z.optional(
      describe(
        z.string(),
        "with grant_kept: this broker's /authorize asking for the stored and this login's scopes; a login asking for all of them (here, or POST /device) replaces the kept grant",
      ),
    ),
  }),
  'DeviceAuthorized',
  'The user approved: the grant is stored (or, with grant_kept, a broader stored grant stays); fetch tokens with GET /token/users/{userId}.',
);

/** A sweep batch's times and counts (src/admin/evidence-json.ts `batchSummaryJson`). */
const batchSummaryShape = {
  batch: z.int(),
  started_at: z.iso.datetime(),
  finished_at: z.iso.datetime(),
  visited: z.int(),
  ...outcomeCountsShape,
};

/** With the moments of the cycle it covered (`batchEvidenceJson`). */
const batchEvidenceShape = {
  ...batchSummaryShape,
  moments_from: describe(z.iso.datetime(), 'the first moment of the cycle this batch covered'),
  moments_to: z.iso.datetime(),
};

export const sweepEvidenceBody = named(
  z.object({
    batches: z.array(
      z.object({
        ...batchEvidenceShape,
        not_validated: describe(z.array(z.object({ user_id: z.string(), outcome: z.string() })), 'users found revoked or not validated, and why'),
      }),
    ),
  }),
  'SweepEvidence',
  "The sweep's last 100 batches, newest first.",
);

const isoOrNull = (description: string) => describe(z.nullable(z.iso.datetime()), description);

export const adminUserBody = named(
  z.object({
    user_id: z.string(),
    login: describe(z.nullable(z.string()), 'null for a user the directory indexed before it kept logins and whose vault could not be read'),
    status: describe(
      z.enum(['active', 'revoked', 'logged_out', 'deleted', 'unknown']),
      '`deleted`: dropped by an operator or the app; `unknown`: the vault did not answer just now',
    ),
    sweep: describe(z.enum(['in_use', 'idle', 'gone', 'not_indexed']), 'in the hourly sweep, set aside while no token is in use, or out for good'),
    scopes: z.array(z.string()),
    expires_at: isoOrNull('when the current access token expires'),
    obtained_at: isoOrNull('when Twitch issued the current pair (login or refresh)'),
    last_validated_at: isoOrNull("the newest proof the grant is alive: login, refresh, a validation, or the sweep passing the user's moment"),
    last_refresh: describe(z.nullable(z.object({ at: z.iso.datetime(), outcome: z.enum(['refreshed', 'failed']) })), 'the last refresh attempt'),
    revoked_at: isoOrNull('when Twitch refused the grant'),
  }),
  'AdminUser',
  'A user as an operator sees them. Never a token.',
);

export const adminUserPageBody = named(
  z.object({
    users: z.array(adminUserBody),
    next: describe(z.nullable(z.string()), 'pass as `after` for the next page; null on the last page'),
  }),
  'AdminUserPage',
  'One page of users, by id or by a search.',
);

export const forcedRefreshBody = named(
  z.object({ user_id: z.string(), refreshed: z.literal(true), expires_at: z.iso.datetime() }),
  'ForcedRefresh',
  'Twitch issued a new pair; the replaced access token is queued for revocation at Twitch.',
);

export const complianceBody = named(
  z.object({
    generated_at: z.iso.datetime(),
    tokens_in_use: describe(z.int(), 'users whose token is in use (in the sweep)'),
    last_hour: z.object({
      share_validated: describe(
        z.nullable(z.number()),
        'share (0..1) of tokens in use validated within the hour; null while the hour did not cover a whole sweep cycle or no token is in use',
      ),
      complete: describe(z.boolean(), "the hour's batches covered the whole cycle: every user's moment came up"),
      covered_minutes: z.int(),
      cycle_minutes: z.int(),
      batches: z.int(),
      ...outcomeCountsShape,
      not_validated: z.array(z.object({ user_id: z.string(), outcome: z.string() })),
    }),
    window_hours: z.int(),
    batches: z.array(
      z.object({
        ...batchEvidenceShape,
        not_validated: describe(z.string(), '`userId:outcome` of each user not validated, space-separated'),
      }),
    ),
  }),
  'Compliance',
  "Evidence of the hourly validation Twitch requires: the last hour's verdict and the window's batches.",
);

export const brokerStatusBody = named(
  z.object({
    configuration: z.enum(['complete', 'incomplete']),
    problems: describe(z.record(z.string(), z.string()), 'what is wrong with each setting, by name (never a value)'),
    app_token: describe(
      z.nullable(z.object({ expires_at: z.iso.datetime(), minted_at: z.iso.datetime() })),
      'the app token the broker holds; null before the first mint',
    ),
    eventsub: z.union([
      z.object({
        enabled: z.literal(true),
        callback: z.string(),
        last_check: describe(
          z.nullable(z.object({ outcome: z.enum(['exists', 'created', 'failed', 'revoked']), at: z.iso.datetime(), detail: z.optional(z.string()) })),
          "the hourly subscription check's last outcome, or `revoked` when Twitch revoked the subscription since (`detail`: why it failed, or Twitch's status); null before the first check",
        ),
      }),
      z.object({ enabled: z.literal(false), reason: z.string() }),
    ]),
    sweep: z.object({
      users: z.int(),
      in_use: z.int(),
      due: z.int(),
      next_batch_at: describe(z.nullable(z.string()), 'when the next sweep batch runs (ISO 8601); null while no user is in the sweep'),
      recent_batches: z.array(z.object(batchSummaryShape)),
    }),
  }),
  'BrokerStatus',
  "The broker's state for operators: settings, app token, EventSub, the sweep and its last batches.",
);

/** True when A and B are the same type (each assignable to the other). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Compile-time only: each schema describes exactly what its route returns.
true satisfies Same<z.infer<typeof userTokenBody>, UserTokenBody>;
true satisfies Same<z.infer<typeof appTokenBody>, AppTokenBody>;
true satisfies Same<z.infer<typeof sweepReportBody>, SweepReport>;
true satisfies Same<z.infer<typeof userEventsBody>['events'][number]['event'], AuditEventName>;
true satisfies Same<z.infer<typeof importReportBody>['failed'][number]['error'], Extract<ImportOutcome, { ok: false }>['error']>;
true satisfies Same<z.infer<typeof adminUserBody>, AdminUserBody>;
true satisfies Same<z.infer<typeof complianceBody>, ComplianceBody>;
true satisfies Same<z.infer<typeof brokerStatusBody>, BrokerStatusBody>;
