import * as z from 'zod/mini';
import type { ImportOutcome } from '../routes/import';
import type { SweepReport } from '../sweep/sweep';
import type { AppTokenBody, UserTokenBody } from '../tokens/token-answers';
import type { AuditEventName } from '../vault/audit-trail';

/**
 * The JSON bodies the broker answers with, as schemas for /openapi.json. They describe output
 * only (input schemas live beside their routes and validate too). The type checks at the bottom
 * tie each schema to the TypeScript type its route returns, so a field added to one and not the
 * other fails `npm run typecheck`.
 */

/** Names the schema in the document (`#/components/schemas/<id>`). */
const named = <Schema extends z.ZodMiniType>(schema: Schema, id: string, description: string): Schema =>
  schema.check(z.meta({ id, description }));

const describe = <Schema extends z.ZodMiniType>(schema: Schema, description: string): Schema => schema.check(z.describe(description));

const unixSeconds = (description: string) => describe(z.int(), `${description} (Unix seconds)`);

export const errorBody = named(
  z.object({
    error: describe(z.string(), 'a stable code: invalid_request, unauthorized, reauthorization_required, insufficient_scope, not_found, rate_limited, temporarily_unavailable, …'),
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

/** A 403 for two reasons: the API key lacks the route's scope, or the grant lacks a requested scope. */
export const scopeRefusedBody = z.union([insufficientScopeBody, errorBody]);

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

export const sweepReportBody = named(
  z.object({
    app: describe(z.enum(['valid', 'minted', 'failed']), 'what the check of the app token came to'),
    validated: z.int(),
    refreshed: z.int(),
    revoked: z.int(),
    failed: z.int(),
    skipped: z.int(),
    remaining: describe(z.int(), 'users still due after this batch; the sweep works through them within minutes'),
  }),
  'SweepReport',
  'Counts of the first batch of a forced sweep.',
);

const auditEventNames = [
  'logged_in',
  'login_kept_grant',
  'refreshed',
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

export const deletedBody = named(z.object({ deleted: z.literal(true) }), 'Deleted', "The user's tokens are revoked at Twitch, the grant forgotten, sessions ended.");

export const importReportBody = named(
  z.object({
    imported: z.array(z.object({ user_id: z.string(), login: z.string(), scopes: z.array(z.string()) })),
    failed: z.array(
      z.object({
        index: describe(z.int(), 'position of the token in the request'),
        error: z.enum(['invalid_grant', 'not_this_client', 'narrower_than_stored', 'temporarily_unavailable', 'import_failed']),
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

export const deviceAuthorizedBody = named(
  z.object({
    user_id: z.string(),
    login: z.string(),
    scopes: z.array(z.string()),
    grant_kept: z.optional(describe(z.literal(true), 'the stored grant had more scopes and was kept')),
  }),
  'DeviceAuthorized',
  "The user approved: the grant is stored; fetch tokens with GET /token/users/{userId}.",
);

export const sweepEvidenceBody = named(
  z.object({
    batches: z.array(
      z.object({
        batch: z.int(),
        started_at: z.iso.datetime(),
        finished_at: z.iso.datetime(),
        moments_from: describe(z.iso.datetime(), 'the first moment of the cycle this batch covered'),
        moments_to: z.iso.datetime(),
        visited: z.int(),
        validated: z.int(),
        refreshed: z.int(),
        revoked: z.int(),
        failed: z.int(),
        skipped: z.int(),
        not_validated: describe(z.array(z.object({ user_id: z.string(), outcome: z.string() })), 'users found revoked or not validated, and why'),
      }),
    ),
  }),
  'SweepEvidence',
  "The sweep's last 100 batches, newest first.",
);

/** True when A and B are the same type (each assignable to the other). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Compile-time only: each schema describes exactly what its route returns.
true satisfies Same<z.infer<typeof userTokenBody>, UserTokenBody>;
true satisfies Same<z.infer<typeof appTokenBody>, AppTokenBody>;
true satisfies Same<z.infer<typeof sweepReportBody>, SweepReport>;
true satisfies Same<z.infer<typeof userEventsBody>['events'][number]['event'], AuditEventName>;
true satisfies Same<z.infer<typeof importReportBody>['failed'][number]['error'], Extract<ImportOutcome, { ok: false }>['error']>;
