import type { Config } from '../config';
import { refreshUserToken, validateToken } from '../twitch/identity';
import { describeFailure, TwitchError } from '../twitch/twitch-error';
import { BACKGROUND_BUDGET, REQUEST_BUDGET, type CallBudget } from '../twitch/twitch-fetch';
import type { GrantEnding } from './grant-ending';
import { copyOf, type GrantStore, type StoredGrant } from './grant-store';
import type { ProofsOfLife } from './proofs-of-life';
import type { RefreshBackoff } from './refresh-backoff';
import { FORCED_CHECK_WINDOW_MS, SET_ASIDE_AFTER_MS, SET_ASIDE_CLOCK_SLACK_MS, USER_REFRESH_MARGIN_MS } from './timing';
import type { VaultEffects } from './vault-effects';
import type { UserTokenResult } from './vault-types';

export type RefreshResult = { kind: 'refreshed' } | { kind: 'revoked' } | { kind: 'unavailable'; retryAfterSeconds: number };

/** What a forced check came to: a refresh's result, or Twitch confirmed the token alive. */
export type CheckResult = RefreshResult | { kind: 'alive' };

/**
 * Serving a user's access token and keeping it usable: refreshing it near expiry, checking it with
 * Twitch when a caller's Helix call was refused. The vault is the only place a user's refresh token
 * is ever used, so refreshes are serialised here: concurrent callers share one in-flight refresh.
 */
export class TokenLifecycle {
  private refreshInFlight: Promise<RefreshResult> | null = null;
  private checkInFlight: Promise<CheckResult> | null = null;

  constructor(
    private readonly store: GrantStore,
    private readonly effects: VaultEffects,
    private readonly ending: GrantEnding,
    private readonly proofs: ProofsOfLife,
    /** Spaces out refresh attempts after a failure (and honours a 429's reset) across requests. */
    private readonly backoff: RefreshBackoff,
    private readonly config: () => Config,
  ) {}

  /** The refresh in flight, if any: the sweep's check waits for it rather than validating the token it replaces. */
  get refreshing(): Promise<RefreshResult> | null {
    return this.refreshInFlight;
  }

  /**
   * Hands out a usable access token, refreshing first when under five minutes remain.
   * `sessionVersion`, when given, must match: that is how revoked sessions are refused.
   * `forceRefresh`: the caller's Helix call was refused with the token it was given; the token is
   * checked with Twitch first and refreshed only if Twitch says it is dead.
   */
  async serve(request: { sessionVersion?: number; forceRefresh?: boolean }): Promise<UserTokenResult> {
    const record = await this.store.load();
    if (!record) return { ok: false, error: 'not_found' };
    if (request.sessionVersion !== undefined && request.sessionVersion !== record.sessionVersion) {
      return { ok: false, error: 'session_revoked' };
    }
    if (record.status === 'revoked') return { ok: false, error: 'reauthorization_required' };
    if (!record.grant) return { ok: false, error: 'not_found' };

    // A token expired for SET_ASIDE_AFTER_MS is one the sweep may have set aside as idle: a refresh
    // brings the user back. One expired for less the directory still holds in use: it meets the
    // new token at the user's next moment, so it is told nothing (no request, no row).
    const expired = record.grant.expiresAt <= Date.now() ? { generation: record.grant.generation, at: record.grant.expiresAt } : null;

    if (request.forceRefresh) {
      const checked = await this.checkOnce();
      if (checked.kind === 'revoked') return { ok: false, error: 'reauthorization_required' };
      // Twitch could not answer the check: the current token, if still unexpired, is the best there is.
      const current = this.store.current?.grant;
      if (checked.kind === 'unavailable' && (!current || current.expiresAt <= Date.now())) {
        return { ok: false, error: 'temporarily_unavailable', retryAfterSeconds: checked.retryAfterSeconds };
      }
    }

    const grant = this.store.current?.grant;
    if (grant && grant.expiresAt - Date.now() <= USER_REFRESH_MARGIN_MS) {
      const result = await this.refreshOnce(REQUEST_BUDGET);
      if (result.kind === 'revoked') return { ok: false, error: 'reauthorization_required' };
      if (result.kind === 'unavailable') {
        // A token that still works is better than an error: refresh ahead of expiry makes this common.
        const current = this.store.current?.grant;
        if (!current || current.expiresAt <= Date.now()) {
          return { ok: false, error: 'temporarily_unavailable', retryAfterSeconds: result.retryAfterSeconds };
        }
      }
    }
    const latest = this.store.current?.grant;
    if (expired && latest && latest.generation !== expired.generation && Date.now() - expired.at >= SET_ASIDE_AFTER_MS - SET_ASIDE_CLOCK_SLACK_MS) {
      await this.effects.rejoinSweep(copyOf(latest));
    }
    return this.store.currentToken();
  }

  /** Single flight for forced checks: concurrent callers share one validate and at most one refresh. */
  checkOnce(): Promise<CheckResult> {
    this.checkInFlight ??= this.checkWithTwitch().finally(() => {
      this.checkInFlight = null;
    });
    return this.checkInFlight;
  }

  /**
   * Asks Twitch whether the current access token still lives; refreshes only when it does not. A
   * token Twitch confirmed alive within FORCED_CHECK_WINDOW_MS is not checked again: the caller's
   * 401 then came from something else (a wrong Client-Id, a missing scope), and a refresh would
   * only spend a rotation. A token killed inside that window is caught by the next forced call.
   */
  private async checkWithTwitch(): Promise<CheckResult> {
    if (this.refreshInFlight) return this.refreshInFlight;
    const grant = this.store.current?.grant;
    if (!grant || this.store.current?.status !== 'active') return { kind: 'revoked' };
    const now = Date.now();
    const confirmed = this.proofs.confirmedAlive;
    if (confirmed?.generation === grant.generation && now - confirmed.at < FORCED_CHECK_WINDOW_MS) {
      return { kind: 'alive' };
    }
    let info;
    try {
      info = await validateToken(this.config(), await this.store.accessTokenOf(grant), REQUEST_BUDGET);
    } catch (error) {
      await this.store.append('validate_failed', describeFailure(error));
      return { kind: 'unavailable', retryAfterSeconds: error instanceof TwitchError ? error.retryAfterSeconds : 1 };
    }
    if (info !== null && this.ending.isAnotherUsers(info)) {
      if (await this.ending.endAnotherUsersGrant(grant)) return { kind: 'revoked' };
      // Replaced while Twitch answered (a login, a logout): the caller gets whatever is current.
      return this.store.current?.grant ? { kind: 'refreshed' } : { kind: 'revoked' };
    }
    if (info !== null) {
      this.proofs.confirmedAlive = { generation: grant.generation, at: now };
      return { kind: 'alive' };
    }
    await this.neverServeAgain(grant);
    return this.refreshOnce(REQUEST_BUDGET);
  }

  /** Twitch called this grant's access token dead: it is never served again, even if the refresh that follows fails. */
  async neverServeAgain(grant: StoredGrant): Promise<void> {
    const current = this.store.current;
    if (current?.grant?.generation === grant.generation) {
      await this.store.save({ ...current, grant: { ...current.grant, expiresAt: Math.min(current.grant.expiresAt, Date.now()) } });
    }
  }

  /** Single flight: every caller arriving during a refresh waits for that same refresh. */
  refreshOnce(budget: CallBudget): Promise<RefreshResult> {
    this.refreshInFlight ??= this.refresh(budget).finally(() => {
      this.refreshInFlight = null;
    });
    return this.refreshInFlight;
  }

  private async refresh(budget: CallBudget): Promise<RefreshResult> {
    const record = await this.store.load();
    const grant = record?.grant;
    if (!record || !grant || record.status !== 'active') return { kind: 'revoked' };

    // After a failure (or a 429) callers are not sent to Twitch until the backoff has passed.
    const waitMs = this.backoff.remainingMs();
    if (waitMs > 0) return { kind: 'unavailable', retryAfterSeconds: Math.ceil(waitMs / 1000) };

    const config = this.config();
    const refreshToken = await this.store.unsealToken(grant.sealedRefreshToken, 'refresh');
    let fresh;
    try {
      fresh = await refreshUserToken(config, refreshToken, budget);
    } catch (error) {
      if (error instanceof TwitchError && error.isDeadRefreshToken) {
        // A login (or logout) while we waited replaced the grant: the refusal is about the old one.
        const current = this.store.current;
        if (current?.grant?.generation !== grant.generation) return current?.grant ? { kind: 'refreshed' } : { kind: 'revoked' };
        await this.ending.markRevoked('refresh_rejected', budget === BACKGROUND_BUDGET ? 'sweep' : 'refresh_refused');
        return { kind: 'revoked' };
      }
      // 5xx, 429, timeouts, garbage, or our own misconfiguration: the grant stays untouched.
      const rateLimited = error instanceof TwitchError && error.status === 429;
      this.backoff.failed(rateLimited ? error.retryAfterSeconds * 1000 : 0);
      await this.store.append('refresh_failed', describeFailure(error));
      return { kind: 'unavailable', retryAfterSeconds: Math.ceil(this.backoff.remainingMs() / 1000) };
    }
    this.backoff.succeeded();

    const sealed = await this.store.sealPair(record.userId, fresh.accessToken, fresh.refreshToken);
    // Other requests ran while we waited on Twitch and sealed the pair: write only over the grant we
    // refreshed, read after the last await (a logout in between must not be written over).
    const current = this.store.current;
    if (!current?.grant || current.grant.generation !== grant.generation) {
      // The grant changed meanwhile (logout, new login): this pair is not ours to keep.
      await this.effects.revokeLater([fresh.accessToken, fresh.refreshToken]);
      return current?.grant ? { kind: 'refreshed' } : { kind: 'revoked' };
    }
    // Persist the new pair, including Twitch's newest refresh token, before anyone is answered:
    // one write, with its audit entry.
    const now = Date.now();
    await this.store.save(
      {
        ...current,
        grant: {
          ...sealed,
          expiresAt: fresh.expiresAt,
          scopes: fresh.scopes.length > 0 ? fresh.scopes : current.grant.scopes,
          obtainedAt: now,
          // A successful refresh proves the grant is alive, which is what hourly validation asks.
          lastValidatedAt: now,
          generation: grant.generation + 1,
        },
      },
      'refreshed',
    );
    this.store.rememberAccessToken(grant.generation + 1, fresh.accessToken);
    // A token Twitch just issued needs no forced check: callers who raced the refresh share it.
    this.proofs.confirmedAlive = { generation: grant.generation + 1, at: now };
    await this.effects.pushCurrentToken();
    if (fresh.scopes.length > 0) await this.effects.notifyScopeChange(current.grant.scopes, fresh.scopes);
    return { kind: 'refreshed' };
  }
}
