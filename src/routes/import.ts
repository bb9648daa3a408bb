import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as z from 'zod/mini';
import { requireApiKey } from '../auth/api-key';
import { getConfig, type Config } from '../config';
import type { Env, AppEnv } from '../env';
import { validateInput } from '../http/validate-input';
import { logEvent } from '../log';
import { importReportBody } from '../openapi/bodies';
import { errorResponse, jsonResponse } from '../openapi/describe';
import { refreshUserToken, revokeToken, type TokenInfo, validateToken } from '../twitch/identity';
import { describeFailure, TwitchError } from '../twitch/twitch-error';
import { BACKGROUND_BUDGET, REQUEST_BUDGET } from '../twitch/twitch-fetch';
import { storeIssuedGrant } from '../vault/store-grant';

/** At most this many tokens per call (each costs a refresh, a validate and two object calls). */
export const IMPORT_MAX_TOKENS = 100;
/** Tokens worked on at once: a Worker invocation keeps at most six connections open. */
const IMPORT_CONCURRENCY = 6;

const tokenText = z.string().check(z.minLength(1), z.maxLength(512), z.regex(/^[\x21-\x7e]+$/, 'must be a token'));
const importBody = z.object({
  tokens: z
    .array(z.object({ refresh_token: tokenText, access_token: z.optional(tokenText) }))
    .check(z.minLength(1), z.maxLength(IMPORT_MAX_TOKENS, `at most ${IMPORT_MAX_TOKENS} tokens per call`)),
});

export type ImportOutcome =
  | { ok: true; user_id: string; login: string; scopes: string[] }
  | {
      ok: false;
      error: 'invalid_grant' | 'not_this_client' | 'narrower_than_stored' | 'identity_mismatch' | 'temporarily_unavailable' | 'import_failed';
      error_description: string;
    };

/**
 * Moves one user in: refresh once (which spends the refresh token that was sent, so the app's
 * old copies die), learn whose it is with /oauth2/validate, store it like a login. Nothing sent is
 * logged; failures name Twitch's status, never a token.
 */
async function importOne(env: Env, config: Config, sent: { refresh_token: string; access_token?: string }): Promise<ImportOutcome> {
  // Whose the app says it is, before the refresh token is spent, when the access token sent along
  // still works: only ever compared with the refreshed token's user, never a stand-in for it.
  const known = sent.access_token ? await validateToken(config, sent.access_token, REQUEST_BUDGET).catch(() => null) : null;
  let grant;
  try {
    grant = await refreshUserToken(config, sent.refresh_token, REQUEST_BUDGET);
  } catch (error) {
    logEvent('import.refresh_failed', { reason: describeFailure(error) });
    if (error instanceof TwitchError && error.kind === 'rejected') {
      return { ok: false, error: 'invalid_grant', error_description: 'Twitch refused the refresh token (spent, revoked, or of another app)' };
    }
    // The refresh may have reached Twitch and rotated the token: the app should check before retrying.
    return { ok: false, error: 'temporarily_unavailable', error_description: 'Twitch did not answer the refresh; the token may have been spent' };
  }
  // The refresh spent the app's copy: learning the user now is worth the sweep's longer deadline.
  // The user is whoever Twitch says the refreshed token belongs to, and nobody else: a pair is
  // never stored under a guess, or under the id of an access token sent along with it.
  const info = await validateToken(config, grant.accessToken, BACKGROUND_BUDGET).catch((error: unknown) => {
    logEvent('import.validate_failed', { reason: describeFailure(error) });
    return undefined;
  });
  const owner = ownerOf(config, info, known);
  if (!owner.ok) {
    // Nobody holds this pair now: revoke it rather than leave live tokens behind that no one can use or end.
    await Promise.allSettled([revokeToken(config, grant.accessToken), revokeToken(config, grant.refreshToken)]);
    return owner;
  }
  const scopes = grant.scopes.length > 0 ? grant.scopes : owner.scopes;
  const { stored } = await storeIssuedGrant(env, { ...grant, userId: owner.userId, login: owner.login, scopes });
  if (!stored) {
    return { ok: false, error: 'narrower_than_stored', error_description: 'the broker already holds a live grant with more scopes for this user; it was kept' };
  }
  return { ok: true, user_id: owner.userId, login: owner.login, scopes };
}

/**
 * Whose a refreshed pair is, from validating its access token (`undefined`: Twitch did not
 * answer), or why it may not be stored. `known`: whose the access token sent along was (null: not
 * sent, or not learned); when both are known they must be the same user.
 */
function ownerOf(
  config: Config,
  info: TokenInfo | null | undefined,
  known: TokenInfo | null,
): { ok: true; userId: string; login: string; scopes: string[] } | Extract<ImportOutcome, { ok: false }> {
  if (info === undefined) {
    return {
      ok: false,
      error: 'temporarily_unavailable',
      error_description:
        'Twitch did not confirm whose the refreshed token is; nothing was stored and the refreshed token was revoked, so this user must log in again',
    };
  }
  if (!info?.userId || !info.login || info.clientId !== config.clientId) {
    return { ok: false, error: 'not_this_client', error_description: 'the token does not belong to a user of this app' };
  }
  if (known?.userId && known.userId !== info.userId) {
    return {
      ok: false,
      error: 'identity_mismatch',
      error_description:
        'the refresh token and the access token sent with it belong to different users; nothing was stored and the refreshed token was revoked',
    };
  }
  return { ok: true, userId: info.userId, login: info.login, scopes: info.scopes };
}

export const importRoutes = new Hono<AppEnv>()
  /**
   * Imports users from an app that kept refresh tokens itself (e.g. twurple's RefreshingAuthProvider),
   * so moving to the broker needs no new logins.
   */
  .post(
    '/admin/users/import',
    describeRoute({
      tags: ['admin'],
      summary: 'Move users in with the refresh tokens an app already holds',
      description:
        'Each token is refreshed once (which spends the copy that was sent), its user learned by validating the refreshed token with /oauth2/validate, and stored like a login. An access token sent along must belong to the same user (`identity_mismatch` otherwise). A refreshed pair whose user Twitch did not confirm is revoked, never stored under a guess. Nothing sent is logged.',
      responses: {
        200: jsonResponse('per-token outcomes; a failed token does not fail the call', importReportBody),
        401: errorResponse({ unauthorized: 'missing or unknown API key' }),
        403: errorResponse({ insufficient_scope: 'the API key lacks the `admin` scope' }),
      },
    }),
    requireApiKey('admin'),
    validateInput('json', importBody),
    async (c) => {
      const { tokens } = c.req.valid('json');
      const config = getConfig(c.env);
      const outcomes: ImportOutcome[] = new Array(tokens.length);
      let next = 0;
      const worker = async () => {
        for (let index = next++; index < tokens.length; index = next++) {
          outcomes[index] = await importOne(c.env, config, tokens[index]!).catch((error: unknown) => {
            logEvent('import.failed', { reason: describeFailure(error) });
            return { ok: false, error: 'import_failed', error_description: 'the broker could not store this user; send it again' } as const;
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, tokens.length) }, worker));
      // The access tokens that were sent belong to the spent refresh tokens: revoke them too, best effort.
      const oldAccessTokens = tokens.flatMap((token) => (token.access_token ? [token.access_token] : []));
      if (oldAccessTokens.length > 0) c.executionCtx.waitUntil(Promise.allSettled(oldAccessTokens.map((token) => revokeToken(config, token))));

      logEvent('import.completed', { imported: outcomes.filter((outcome) => outcome.ok).length, failed: outcomes.filter((outcome) => !outcome.ok).length });
      c.header('Cache-Control', 'no-store');
      return c.json({
        imported: outcomes.flatMap((outcome) => (outcome.ok ? [{ user_id: outcome.user_id, login: outcome.login, scopes: outcome.scopes }] : [])),
        failed: outcomes.flatMap((outcome, index) => (outcome.ok ? [] : [{ index, error: outcome.error, error_description: outcome.error_description }])),
      });
    },
  );
