import { DurableObject } from 'cloudflare:workers';
import { getConfig, type Config } from '../config';
import type { Env } from '../env';
import { refreshUserToken, revokeToken, type TokenInfo, validateToken } from '../twitch/identity';
import { recordRevocation } from '../metrics/metrics';
import { describeFailure, TwitchError } from '../twitch/twitch-error';
import { BACKGROUND_BUDGET, REQUEST_BUDGET, type CallBudget } from '../twitch/twitch-fetch';
import { brokerEvent, type RevocationReason } from '../notify/broker-event';
import { copyOf, GrantStore, type StoredGrant, type UserRecord } from './grant-store';
import { AuditTrail, type AuditEvent } from './audit-trail';
import { RefreshBackoff } from './refresh-backoff';
import { VaultEffects } from './vault-effects';
import { FORCED_CHECK_WINDOW_MS, USER_REFRESH_MARGIN_MS, VALIDATION_SKIP_WINDOW_MS } from './timing';
import type { ForcedRefreshOutcome, NewGrant, StoreGrantOutcome, UserSummary, UserTokenResult, UserValidation, ValidateOptions } from './vault-types';

type RefreshResult =
  | { kind: 'refreshed' }
  | { kind: 'revoked' }
  | { kind: 'unavailable'; retryAfterSeconds: number };

/** A grant validated (or refreshed) this recently counts as alive without asking Twitch again. */
const RECENTLY_PROVEN_MS = 5 * 60_000;

/**
 * One Durable Object per Twitch user id. It is the only place a user's refresh token is ever
 * used, so refreshes are serialised here: concurrent callers share one in-flight refresh.
 */
export class UserVault extends DurableObject<Env> {
  private refreshInFlight: Promise<RefreshResult> | null = null;
  private checkInFlight: Promise<RefreshResult | { kind: 'alive' }> | null = null;
  /** The generation Twitch last confirmed alive on a forced check, and when. */
  private confirmedAlive: { generation: number; at: number } | null = null;
  private readonly store = new GrantStore(this.ctx.storage, () => this.config);
  private readonly audit = new AuditTrail(this.ctx.storage);
  /** Spaces out refresh attempts after a failure (and honours a 429's reset) across requests. */
  private readonly backoff = new RefreshBackoff();
  private readonly effects = new VaultEffects(this.ctx, () => this.env, this.store, this.backoff);
  /**
   * The last routine validation of a generation, kept in memory only: storing it would cost a
   * write per user-hour. The sweep's directory keeps the evidence, per batch (docs/storage.md).
   */
  private validatedInMemory: { generation: number; at: number } | null = null;

  private get config(): Config {
    return getConfig(this.env);
  }

  /**
   * Stores the grant from a completed login and returns the user's session version, unless the
   * login would narrow the user's live grant: one lacking any stored scope may be a hostile page
   * walking the user's browser through /authorize (Twitch sends an already-authorized user straight
   * back), so the stored grant stays and the new pair is revoked instead (`stored: false`). A grant
   * that is replaced is revoked at Twitch. Revocations run in the alarm, off the response path.
   */
  async storeGrant(input: NewGrant): Promise<StoreGrantOutcome> {
    const previous = await this.store.load();
    const live = previous?.status === 'active' ? previous.grant : null;
    // Scopes ALLOWED_SCOPES no longer permits are not worth keeping a grant for.
    const allowed = this.config.allowedScopes;
    const missingScopes = (live?.scopes ?? []).filter((scope) => !input.scopes.includes(scope) && (!allowed || allowed.has(scope)));
    if (previous && live && missingScopes.length > 0 && (await this.isAlive(live))) {
      const storedPair = await this.store.unsealPairOrLog(live);
      // Never revoke what the kept grant itself holds, should Twitch ever hand the same token back.
      await this.effects.revokeLater([input.accessToken, input.refreshToken].filter((token) => !storedPair.includes(token)));
      await this.audit.append(input.userId, 'login_kept_grant', `the login lacked ${missingScopes.join(' ')}`);
      return { sessionVersion: previous.sessionVersion, stored: false, scopes: [...live.scopes] };
    }
    const sealed = await this.store.sealPair(input.userId, input.accessToken, input.refreshToken);
    await this.store.save({
      userId: input.userId,
      login: input.login,
      status: 'active',
      sessionVersion: previous?.sessionVersion ?? 1,
      revokedAt: null,
      grant: {
        ...sealed,
        expiresAt: input.expiresAt,
        scopes: input.scopes,
        obtainedAt: Date.now(),
        lastValidatedAt: input.validatedAt,
        generation: Math.max(previous?.grant?.generation ?? 0, previous?.lastGeneration ?? 0) + 1,
      },
    });
    if (live) {
      const replaced = await this.store.unsealPairOrLog(live);
      await this.effects.revokeLater(replaced.filter((token) => token !== input.accessToken && token !== input.refreshToken));
    }
    await this.audit.append(input.userId, 'logged_in');
    await this.effects.pushCurrentToken();
    await this.effects.notify(brokerEvent('user.authorized', { user_id: input.userId, login: input.login, scopes: input.scopes }));
    if (live) await this.effects.notifyScopeChange(live.scopes, input.scopes);
    return { sessionVersion: this.store.current!.sessionVersion, stored: true, scopes: input.scopes };
  }

  /**
   * Whether a stored grant still works, before a narrower login is refused in its favour: proven
   * within the last few minutes, or confirmed by /oauth2/validate now. A grant that died early (a
   * password change) must not keep out the login that replaces it; when Twitch cannot answer, the
   * stored grant is kept (the sweep will find out) rather than risk a hostile narrowing.
   */
  private async isAlive(grant: StoredGrant): Promise<boolean> {
    const now = Date.now();
    const provenAt = Math.max(
      grant.lastValidatedAt,
      this.confirmedAlive?.generation === grant.generation ? this.confirmedAlive.at : 0,
      this.validatedInMemory?.generation === grant.generation ? this.validatedInMemory.at : 0,
    );
    if (grant.expiresAt > now && now - provenAt < RECENTLY_PROVEN_MS) return true;
    try {
      const info = await validateToken(this.config, await this.store.accessTokenOf(grant), REQUEST_BUDGET);
      // Another user's token is no grant of this user: the login replaces it (and revokes it).
      const alive = info !== null && !this.isAnotherUsers(info);
      if (alive) this.confirmedAlive = { generation: grant.generation, at: now };
      return alive;
    } catch {
      return true;
    }
  }

  /** GET /token/users/:id/live, forwarded by the Worker once it has checked the key and the user. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    await this.store.load();
    return this.effects.openLive(request);
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    socket.close(code === 1005 ? 1000 : code, 'closed');
  }

  /** Revokes queued tokens at Twitch and delivers queued events; failures come back with backoff. */
  override async alarm(): Promise<void> {
    const record = await this.store.load();
    if (!record) return;
    await this.effects.runDueQueues(record.userId);
    const liveDue = this.effects.liveRefreshDueAt();
    if (liveDue !== null && liveDue <= Date.now()) await this.refreshOnce(BACKGROUND_BUDGET);
    await this.effects.scheduleAlarm();
  }

  /**
   * Hands out a usable access token, refreshing first when under five minutes remain.
   * `sessionVersion`, when given, must match: that is how revoked sessions are refused.
   * `forceRefresh`: the caller's Helix call was refused with the token it was given; the token is
   * checked with Twitch first and refreshed only if Twitch says it is dead.
   */
  async getAccessToken(request: { sessionVersion?: number; forceRefresh?: boolean } = {}): Promise<UserTokenResult> {
    const record = await this.store.load();
    if (!record) return { ok: false, error: 'not_found' };
    if (request.sessionVersion !== undefined && request.sessionVersion !== record.sessionVersion) {
      return { ok: false, error: 'session_revoked' };
    }
    if (record.status === 'revoked') return { ok: false, error: 'reauthorization_required' };
    if (!record.grant) return { ok: false, error: 'not_found' };

    // An expired token is one the sweep may have set aside as idle: a refresh brings the user back.
    const expiredGeneration = record.grant.expiresAt <= Date.now() ? record.grant.generation : null;

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
    if (expiredGeneration !== null && this.store.current?.grant && this.store.current.grant.generation !== expiredGeneration) await this.effects.rejoinSweep();
    return this.store.currentToken();
  }

  /** Single flight for forced checks: concurrent callers share one validate and at most one refresh. */
  private checkOnce(): Promise<RefreshResult | { kind: 'alive' }> {
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
  private async checkWithTwitch(): Promise<RefreshResult | { kind: 'alive' }> {
    if (this.refreshInFlight) return this.refreshInFlight;
    const grant = this.store.current?.grant;
    if (!grant || this.store.current?.status !== 'active') return { kind: 'revoked' };
    const now = Date.now();
    if (this.confirmedAlive?.generation === grant.generation && now - this.confirmedAlive.at < FORCED_CHECK_WINDOW_MS) {
      return { kind: 'alive' };
    }
    let info;
    try {
      info = await validateToken(this.config, await this.store.accessTokenOf(grant), REQUEST_BUDGET);
    } catch (error) {
      await this.audit.append(this.store.current!.userId, 'validate_failed', describeFailure(error));
      return { kind: 'unavailable', retryAfterSeconds: error instanceof TwitchError ? error.retryAfterSeconds : 1 };
    }
    if (info !== null && this.isAnotherUsers(info)) {
      if (await this.endAnotherUsersGrant(grant)) return { kind: 'revoked' };
      // Replaced while Twitch answered (a login, a logout): the caller gets whatever is current.
      return this.store.current?.grant ? { kind: 'refreshed' } : { kind: 'revoked' };
    }
    if (info !== null) {
      this.confirmedAlive = { generation: grant.generation, at: now };
      return { kind: 'alive' };
    }
    await this.neverServeAgain(grant);
    return this.refreshOnce(REQUEST_BUDGET);
  }

  /**
   * Whether /oauth2/validate says the token is another user's. Only a different user id counts: a
   * 200 without one proves nothing either way, and must not end a grant.
   */
  private isAnotherUsers(info: TokenInfo): boolean {
    return info.userId !== null && info.userId !== this.store.current?.userId;
  }

  /**
   * Twitch says the grant's access token belongs to another user (an import that once stored a
   * guess, a mix-up): nothing of it may be served as this user's. The grant ends as a revocation
   * does, never as a rename of this user, and the pair is revoked at Twitch as well, since it lives
   * on for that other user. False when a login or logout replaced the grant while Twitch
   * answered: the answer is about the old one, which is nobody's to end now.
   */
  private async endAnotherUsersGrant(grant: StoredGrant): Promise<boolean> {
    const current = this.store.current;
    if (current?.status !== 'active' || current.grant?.generation !== grant.generation) return false;
    const pair = await this.store.unsealPairOrLog(grant);
    await this.markRevoked('identity_mismatch', 'identity_mismatch');
    await this.effects.revokeLater(pair);
    return true;
  }

  /** Twitch called this grant's access token dead: it is never served again, even if the refresh that follows fails. */
  private async neverServeAgain(grant: StoredGrant): Promise<void> {
    const current = this.store.current;
    if (current?.grant?.generation === grant.generation) {
      await this.store.save({ ...current, grant: { ...current.grant, expiresAt: Math.min(current.grant.expiresAt, Date.now()) } });
    }
  }

  /** Single flight: every caller arriving during a refresh waits for that same refresh. */
  private refreshOnce(budget: CallBudget): Promise<RefreshResult> {
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

    const config = this.config;
    const refreshToken = await this.store.unsealToken(grant.sealedRefreshToken, 'refresh');
    let fresh;
    try {
      fresh = await refreshUserToken(config, refreshToken, budget);
    } catch (error) {
      if (error instanceof TwitchError && error.isDeadRefreshToken) {
        // A login (or logout) while we waited replaced the grant: the refusal is about the old one.
        const current = this.store.current;
        if (current?.grant?.generation !== grant.generation) return current?.grant ? { kind: 'refreshed' } : { kind: 'revoked' };
        await this.markRevoked('refresh_rejected', budget === BACKGROUND_BUDGET ? 'sweep' : 'refresh_refused');
        return { kind: 'revoked' };
      }
      // 5xx, 429, timeouts, garbage, or our own misconfiguration: the grant stays untouched.
      const rateLimited = error instanceof TwitchError && error.status === 429;
      this.backoff.failed(rateLimited ? error.retryAfterSeconds * 1000 : 0);
      await this.audit.append(record.userId, 'refresh_failed', describeFailure(error));
      return { kind: 'unavailable', retryAfterSeconds: Math.ceil(this.backoff.remainingMs() / 1000) };
    }
    this.backoff.succeeded();

    // Other requests ran while we waited on Twitch: write only over the grant we refreshed.
    const current = this.store.current;
    if (!current?.grant || current.grant.generation !== grant.generation) {
      // The grant changed while Twitch answered (logout, new login): this pair is not ours to keep.
      await this.effects.revokeLater([fresh.accessToken, fresh.refreshToken]);
      return current?.grant ? { kind: 'refreshed' } : { kind: 'revoked' };
    }
    // Persist the new pair, including Twitch's newest refresh token, before anyone is answered.
    const sealed = await this.store.sealPair(current.userId, fresh.accessToken, fresh.refreshToken);
    const now = Date.now();
    await this.store.save({
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
    });
    this.store.rememberAccessToken(grant.generation + 1, fresh.accessToken);
    // A token Twitch just issued needs no forced check: callers who raced the refresh share it.
    this.confirmedAlive = { generation: grant.generation + 1, at: now };
    await this.audit.append(current.userId, 'refreshed');
    await this.effects.pushCurrentToken();
    if (fresh.scopes.length > 0) await this.effects.notifyScopeChange(current.grant.scopes, fresh.scopes);
    return { kind: 'refreshed' };
  }

  /** Twitch has definitively refused the grant: forget the tokens, keep the user marked revoked. */
  private async markRevoked(reason: string, notifiedAs: RevocationReason): Promise<void> {
    const record = this.store.current;
    if (!record) return;
    await this.store.save({
      ...record,
      status: 'revoked',
      grant: null,
      lastGeneration: record.grant?.generation ?? record.lastGeneration,
      revokedAt: Date.now(),
      sessionVersion: record.sessionVersion + 1,
    });
    this.store.forgetAccessToken();
    // The directory must not go on counting a copy of a revoked grant's access token as validated.
    await this.effects.forgetDirectoryCopy();
    recordRevocation(notifiedAs);
    await this.audit.append(record.userId, 'revoked', reason);
    this.effects.broadcastRevoked(notifiedAs);
    await this.effects.notify(brokerEvent('user.revoked', { user_id: record.userId, login: record.login, reason: notifiedAs }));
  }

  /**
   * The sweep's check: ask Twitch whether the token still lives; on 401 refresh once; on a
   * definitive refusal mark the user revoked. Skips users proven alive within the skip window, and
   * answers `idle` without calling Twitch when the access token has expired and no caller asked
   * for a new one (no token of this user is in use; the refresh a caller triggers re-proves the
   * grant and brings the user back). A routine success writes nothing unless something changed:
   * the sweep's directory records the batch as the evidence; a forced one adds an audit entry.
   * Every answer for an active grant carries the sealed copy of the current access token, which
   * the directory validates itself until it nears expiry (`handover`: without this vault waiting
   * for Twitch first).
   */
  async validate(options: ValidateOptions = {}): Promise<UserValidation> {
    if (this.refreshInFlight) await this.refreshInFlight;
    const loaded = await this.store.load();
    if (!loaded?.grant || loaded.status !== 'active') return { outcome: 'inactive', lastValidatedAt: null };
    // After a key rotation every visit re-seals the grant, refresh token included, whatever it does
    // next: the old key may be retired once a sweep has passed (README: key rotation).
    const resealed = await this.store.resealedIfOldKey(loaded.grant);
    if (Object.keys(resealed).length > 0) await this.store.save({ ...loaded, grant: { ...loaded.grant, ...resealed } });
    const record = this.store.current!;
    const grant = record.grant!;
    const now = Date.now();
    const lastProof = Math.max(grant.lastValidatedAt, this.validatedInMemory?.generation === grant.generation ? this.validatedInMemory.at : 0);
    // An operator's forced sweep, or a copy Twitch called another user's token: ask Twitch now.
    const checkNow = options.force === true || options.recheck === true;
    if (!checkNow && grant.expiresAt <= now) return { outcome: 'idle', lastValidatedAt: lastProof };
    if (!checkNow && now - lastProof < VALIDATION_SKIP_WINDOW_MS) {
      return { outcome: 'skipped', lastValidatedAt: lastProof, copy: copyOf(grant) };
    }
    // A copy with time to live is validated by the directory itself: this vault need not wait for Twitch.
    if (options.handover && !checkNow && options.deadGeneration === undefined && grant.expiresAt - now > USER_REFRESH_MARGIN_MS) {
      return { outcome: 'handed_over', lastValidatedAt: lastProof, copy: copyOf(grant) };
    }

    let info;
    if (options.deadGeneration === grant.generation) {
      // Twitch called this very token invalid moments ago: asking again would only cost a call.
      info = null;
    } else {
      try {
        info = await validateToken(this.config, await this.store.accessTokenOf(grant), BACKGROUND_BUDGET);
      } catch (error) {
        await this.audit.append(record.userId, 'validate_failed', describeFailure(error));
        return { outcome: 'failed', lastValidatedAt: lastProof };
      }
    }
    if (info !== null && this.isAnotherUsers(info)) {
      if (await this.endAnotherUsersGrant(grant)) return { outcome: 'revoked', lastValidatedAt: null };
      // Replaced while Twitch answered: the new grant is visited again soon, as after a failure.
      return { outcome: 'failed', lastValidatedAt: lastProof };
    }
    if (info === null) {
      await this.neverServeAgain(grant);
      const result = await this.refreshOnce(BACKGROUND_BUDGET);
      const current = this.store.current?.grant;
      const lastValidatedAt = current?.lastValidatedAt ?? null;
      if (result.kind === 'refreshed') return { outcome: 'refreshed', lastValidatedAt, ...(current ? { copy: copyOf(current) } : {}) };
      return { outcome: result.kind === 'revoked' ? 'revoked' : 'failed', lastValidatedAt };
    }

    const current = this.store.current;
    if (current?.grant?.generation === grant.generation) {
      this.validatedInMemory = { generation: grant.generation, at: now };
      const resealed = await this.store.resealedIfOldKey(current.grant);
      const login = info.login ?? current.login;
      const scopes = info.scopes.length > 0 ? info.scopes : current.grant.scopes;
      const expiresAt = info.expiresAt ?? current.grant.expiresAt;
      // Twitch's expires_in counts down in whole seconds: a drift under a minute is not news.
      const changed =
        Object.keys(resealed).length > 0 ||
        login !== current.login ||
        scopes.join(' ') !== current.grant.scopes.join(' ') ||
        Math.abs(expiresAt - current.grant.expiresAt) > 60_000;
      if (changed) {
        await this.store.save({ ...current, login, grant: { ...current.grant, ...resealed, lastValidatedAt: now, expiresAt, scopes } });
        await this.effects.notifyScopeChange(current.grant.scopes, scopes);
      }
    }
    // An operator's forced sweep (rare, and asked for) is worth an entry in the user's own trail.
    if (options.force) await this.audit.append(record.userId, 'validated');
    const latest = this.store.current?.grant;
    return { outcome: 'validated', lastValidatedAt: now, ...(latest ? { copy: copyOf(latest) } : {}), ...(info.login ? { login: info.login } : {}) };
  }

  /**
   * Logout: revoke both tokens at Twitch (best effort: the user is logged out here either way),
   * forget the grant and end every session of this user.
   */
  async logout(sessionVersion: number): Promise<'logged_out' | 'session_revoked'> {
    const record = await this.store.load();
    if (!record || record.sessionVersion !== sessionVersion) return 'session_revoked';
    await this.endGrant(record, 'logged_out');
    return 'logged_out';
  }

  /**
   * Drops the user on an operator's or app's request (DELETE /token/users/:id): revokes the tokens
   * at Twitch, forgets the grant, ends every session, and keeps the record for the audit trail.
   * A user already dropped is `not_found`, as for the API: a repeated request changes nothing.
   */
  async drop(): Promise<'deleted' | 'not_found'> {
    const record = await this.store.load();
    if (!record || record.status === 'deleted') return 'not_found';
    await this.endGrant(record, 'deleted');
    return 'deleted';
  }

  /**
   * Twitch said the user disconnected the app (EventSub `user.authorization.revoke`): marked revoked
   * at once, no token served and no refresh tried again. A user this broker never saw stays unknown.
   * A message Twitch sent (`sentAt`) before the current pair was obtained (a new login, or a refresh
   * Twitch granted after sending it) arrived late and is not about this pair: it gets the forced
   * check instead (`kept` unless Twitch refuses it; a Twitch failure keeps it for the sweep).
   */
  async revokedAtTwitch(reason: string, sentAt?: number): Promise<'revoked' | 'kept' | 'not_found'> {
    const record = await this.store.load();
    if (!record) return 'not_found';
    if (record.status !== 'active') return 'revoked';
    const grant = record.grant;
    if (sentAt === undefined || !grant || sentAt >= grant.obtainedAt) {
      await this.markRevoked(reason, 'eventsub');
      return 'revoked';
    }
    // Twitch is asked now, even if it confirmed this generation moments ago: a revoke outweighs that.
    this.confirmedAlive = null;
    const checked = await this.checkOnce();
    if (checked.kind === 'revoked') return 'revoked';
    const late = `a revoke (${reason}) sent ${new Date(sentAt).toISOString()}, before this grant was made`;
    if (checked.kind === 'unavailable') await this.audit.append(record.userId, 'validate_failed', `${late}: kept, Twitch could not be asked`);
    else await this.audit.append(record.userId, 'validated', `${late}: kept, Twitch ${checked.kind === 'alive' ? 'confirms it alive' : 'refreshed it'}`);
    return 'kept';
  }

  /**
   * The shared end of logout and drop: the grant is forgotten and every session ends before Twitch
   * is asked to revoke the tokens (best effort: the user is out here either way); what Twitch does
   * not take now is retried by the alarm.
   */
  private async endGrant(record: UserRecord, status: 'logged_out' | 'deleted'): Promise<void> {
    const grant = record.grant;
    await this.store.save({
      ...record,
      status,
      grant: null,
      lastGeneration: grant?.generation ?? record.lastGeneration,
      sessionVersion: record.sessionVersion + 1,
    });
    this.store.forgetAccessToken();
    if (grant) await this.effects.forgetDirectoryCopy();
    let failed: string[] = [];
    if (grant) {
      const config = this.config;
      const tokens = await this.store.unsealPairOrLog(grant);
      const results = await Promise.allSettled(tokens.map((token) => revokeToken(config, token)));
      failed = tokens.filter((_token, index) => results[index]!.status === 'rejected');
      await this.effects.revokeLater(failed, { alreadyTried: true });
    }
    await this.audit.append(record.userId, status, failed.length ? `${failed.length} revocation(s) at Twitch failed; retrying` : undefined);
    this.effects.broadcastRevoked(status);
    if (grant) await this.effects.notify(brokerEvent('user.revoked', { user_id: record.userId, login: record.login, reason: status }));
  }

  /** Ends every outstanding session of this user without touching the grant. */
  async revokeSessions(sessionVersion: number): Promise<'sessions_revoked' | 'session_revoked'> {
    const record = await this.store.load();
    if (!record || record.sessionVersion !== sessionVersion) return 'session_revoked';
    await this.store.save({ ...record, sessionVersion: record.sessionVersion + 1 });
    await this.audit.append(record.userId, 'sessions_revoked');
    return 'sessions_revoked';
  }

  /** The scopes of the live grant, for the holder of a current session; null otherwise. */
  async storedScopes(sessionVersion: number): Promise<string[] | null> {
    const record = await this.store.load();
    if (!record || record.sessionVersion !== sessionVersion || record.status !== 'active') return null;
    return record.grant?.scopes ?? null;
  }

  // --- The admin console's operations (src/admin/): a summary without secrets, a forced refresh. ---

  /** What an operator may see of this user, or null for a user this broker never saw. No token. */
  async summary(): Promise<UserSummary | null> {
    const record = await this.store.load();
    if (!record) return null;
    const grant = record.grant;
    const remembered = (proof: { generation: number; at: number } | null) => (grant && proof?.generation === grant.generation ? proof.at : 0);
    const lastRefresh = [...(await this.audit.list())].reverse().find((entry) => entry.event === 'refreshed' || entry.event === 'refresh_failed');
    return {
      userId: record.userId,
      login: record.login,
      status: record.status,
      scopes: grant?.scopes ?? [],
      expiresAt: grant?.expiresAt ?? null,
      obtainedAt: grant?.obtainedAt ?? null,
      lastValidatedAt: grant ? Math.max(grant.lastValidatedAt, remembered(this.validatedInMemory), remembered(this.confirmedAlive)) : null,
      lastRefresh: lastRefresh ? { at: lastRefresh.at, outcome: lastRefresh.event === 'refreshed' ? 'refreshed' : 'failed' } : null,
      revokedAt: record.revokedAt,
    };
  }

  /**
   * An operator's refresh (console, `POST /admin/users/:id/refresh`): now, whatever the token's
   * age, through the same single flight as every refresh. An operator who presses it suspects the
   * token, so the access token it replaces is revoked at Twitch (by the alarm, off this call).
   */
  async forceRefresh(operator: string): Promise<ForcedRefreshOutcome> {
    const record = await this.store.load();
    if (!record) return { outcome: 'not_found' };
    const grant = record.grant;
    if (!grant || record.status !== 'active') return { outcome: 'no_grant', status: record.status };
    await this.audit.append(record.userId, 'refresh_forced', `by API key ${operator}`);
    const result = await this.refreshOnce(REQUEST_BUDGET);
    if (result.kind === 'revoked') return { outcome: 'revoked' };
    if (result.kind === 'unavailable') return { outcome: 'unavailable', retryAfterSeconds: result.retryAfterSeconds };
    const current = this.store.current?.grant;
    if (!current) return { outcome: 'revoked' };
    if (current.generation !== grant.generation) {
      const [replaced, fresh] = await Promise.all([
        this.store.unsealToken(grant.sealedAccessToken, 'access').catch(() => null),
        this.store.accessTokenOf(current),
      ]);
      if (replaced !== null && replaced !== fresh) await this.effects.revokeLater([replaced]);
      await this.effects.forgetDirectoryCopy();
    }
    return { outcome: 'refreshed', expiresAt: current.expiresAt };
  }

  // --- End of the console's operations. ---

  /** The user's audit trail, or null for a user this broker never saw. */
  async events(): Promise<AuditEvent[] | null> {
    return (await this.store.load()) ? this.audit.list() : null;
  }
}
