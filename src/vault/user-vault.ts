import { DurableObject } from 'cloudflare:workers';
import { getConfig, type Config } from '../config';
import { isSealedWithOldKey, seal, unseal } from '../crypto/seal';
import type { Env } from '../env';
import { refreshUserToken, revokeToken, validateToken } from '../twitch/identity';
import { logEvent } from '../log';
import { recordRevocation } from '../metrics/metrics';
import { describeFailure, TwitchError } from '../twitch/twitch-error';
import { BACKGROUND_BUDGET, REQUEST_BUDGET, type CallBudget } from '../twitch/twitch-fetch';
import { brokerEvent, type BrokerEvent, type RevocationReason } from '../notify/broker-event';
import { NotificationOutbox } from '../notify/outbox';
import { userTokenBody } from '../tokens/token-body';
import { AuditTrail, type AuditEvent } from './audit-trail';
import { LiveTokenSockets } from './live-tokens';
import { RefreshBackoff } from './refresh-backoff';
import { RevocationQueue } from './revocation-queue';
import { directoryFor } from './stubs';
import { FORCED_CHECK_WINDOW_MS, SET_ASIDE_AFTER_MS, SET_ASIDE_CLOCK_SLACK_MS, USER_REFRESH_MARGIN_MS, VALIDATION_SKIP_WINDOW_MS } from './timing';
import type { AccessCopy, ForcedRefreshOutcome, NewGrant, UserSummary, UserTokenResult, UserValidation, ValidateOptions } from './vault-types';

/** The grant as stored: both tokens sealed, times absolute. */
interface StoredGrant {
  sealedAccessToken: string;
  sealedRefreshToken: string;
  expiresAt: number;
  scopes: string[];
  obtainedAt: number;
  lastValidatedAt: number;
  /** Bumped on every write of a new token pair: a refresh only writes back over the grant it read. */
  generation: number;
}

/** Everything the vault keeps, under the single storage key `user`. */
interface UserRecord {
  userId: string;
  login: string;
  status: 'active' | 'revoked' | 'logged_out' | 'deleted';
  /** Sessions carry this number; bumping it revokes every outstanding session at once. */
  sessionVersion: number;
  grant: StoredGrant | null;
  revokedAt: number | null;
  /** The generation of the last grant, kept when it is dropped, so generations never repeat. */
  lastGeneration?: number;
}

type RefreshResult =
  | { kind: 'refreshed' }
  | { kind: 'revoked' }
  | { kind: 'unavailable'; retryAfterSeconds: number };

const RECORD_KEY = 'user';

/** The copy of a grant's access token the sweep's directory validates: still sealed, never the refresh token. */
const copyOf = (grant: StoredGrant): AccessCopy => ({ sealedAccessToken: grant.sealedAccessToken, generation: grant.generation, expiresAt: grant.expiresAt });

const sameScopes = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join(' ') === [...b].sort().join(' ');
/** A grant validated (or refreshed) this recently counts as alive without asking Twitch again. */
const RECENTLY_PROVEN_MS = 5 * 60_000;

/**
 * One Durable Object per Twitch user id. It is the only place a user's refresh token is ever
 * used, so refreshes are serialised here: concurrent callers share one in-flight refresh.
 */
export class UserVault extends DurableObject<Env> {
  private record: UserRecord | null | undefined;
  /** The unsealed access token of the current generation, so hot reads skip the AES work. */
  private plainAccessToken: { generation: number; token: string } | null = null;
  private refreshInFlight: Promise<RefreshResult> | null = null;
  private checkInFlight: Promise<RefreshResult | { kind: 'alive' }> | null = null;
  /** The generation Twitch last confirmed alive on a forced check, and when. */
  private confirmedAlive: { generation: number; at: number } | null = null;
  private readonly audit = new AuditTrail(this.ctx.storage);
  /** Spaces out refresh attempts after a failure (and honours a 429's reset) across requests. */
  private readonly backoff = new RefreshBackoff();
  /** Tokens this vault no longer wants, revoked at Twitch by the alarm. */
  private readonly revocations = new RevocationQueue(this.ctx.storage, () => this.purpose('revoke'));
  /** Events for the app (NOTIFY_URL), delivered in order by the alarm. */
  private readonly outbox = new NotificationOutbox(this.ctx.storage);
  /** Bots holding a live connection for this user's tokens. */
  private readonly live = new LiveTokenSockets(this.ctx);
  /**
   * The last routine validation of a generation, kept in memory only: storing it would cost a
   * write per user-hour. The sweep's directory keeps the evidence, per batch (docs/storage.md).
   */
  private validatedInMemory: { generation: number; at: number } | null = null;
  private rejoinInFlight: Promise<void> | null = null;

  private get config(): Config {
    return getConfig(this.env);
  }

  private async load(): Promise<UserRecord | null> {
    if (this.record === undefined) {
      this.record = (await this.ctx.storage.get<UserRecord>(RECORD_KEY)) ?? null;
    }
    return this.record;
  }

  private async save(record: UserRecord): Promise<void> {
    this.record = record;
    await this.ctx.storage.put(RECORD_KEY, record);
  }

  private purpose(kind: 'access' | 'refresh' | 'revoke'): string {
    return `user:${this.record?.userId ?? ''}:${kind}`;
  }

  private async sealPair(userId: string, accessToken: string, refreshToken: string) {
    const keys = this.config.tokenKeys;
    const [sealedAccessToken, sealedRefreshToken] = await Promise.all([
      seal(accessToken, `user:${userId}:access`, keys),
      seal(refreshToken, `user:${userId}:refresh`, keys),
    ]);
    return { sealedAccessToken, sealedRefreshToken };
  }

  /** Both tokens of a grant, unsealed: [access, refresh]. */
  private unsealPair(grant: StoredGrant): Promise<[string, string]> {
    const keys = this.config.tokenKeys;
    return Promise.all([
      unseal(grant.sealedAccessToken, this.purpose('access'), keys),
      unseal(grant.sealedRefreshToken, this.purpose('refresh'), keys),
    ]);
  }

  private async accessTokenOf(grant: StoredGrant): Promise<string> {
    if (this.plainAccessToken?.generation !== grant.generation) {
      const token = await unseal(grant.sealedAccessToken, this.purpose('access'), this.config.tokenKeys);
      this.plainAccessToken = { generation: grant.generation, token };
    }
    return this.plainAccessToken.token;
  }

  /**
   * Stores the grant from a completed login and returns the user's session version, unless the
   * login would narrow the user's live grant: one lacking any stored scope may be a hostile page
   * walking the user's browser through /authorize (Twitch sends an already-authorized user straight
   * back), so the stored grant stays and the new pair is revoked instead (`stored: false`). A grant
   * that is replaced is revoked at Twitch. Revocations run in the alarm, off the response path.
   */
  async storeGrant(input: NewGrant): Promise<{ sessionVersion: number; stored: boolean }> {
    const previous = await this.load();
    const live = previous?.status === 'active' ? previous.grant : null;
    // Scopes ALLOWED_SCOPES no longer permits are not worth keeping a grant for.
    const allowed = this.config.allowedScopes;
    const missingScopes = (live?.scopes ?? []).filter((scope) => !input.scopes.includes(scope) && (!allowed || allowed.has(scope)));
    if (previous && live && missingScopes.length > 0 && (await this.isAlive(live))) {
      const storedPair = await this.unsealPairOrLog(live);
      // Never revoke what the kept grant itself holds, should Twitch ever hand the same token back.
      await this.revokeLater([input.accessToken, input.refreshToken].filter((token) => !storedPair.includes(token)));
      await this.audit.append(input.userId, 'login_kept_grant', `the login lacked ${missingScopes.join(' ')}`);
      return { sessionVersion: previous.sessionVersion, stored: false };
    }
    const sealed = await this.sealPair(input.userId, input.accessToken, input.refreshToken);
    await this.save({
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
      const replaced = await this.unsealPairOrLog(live);
      await this.revokeLater(replaced.filter((token) => token !== input.accessToken && token !== input.refreshToken));
    }
    await this.audit.append(input.userId, 'logged_in');
    await this.pushCurrentToken();
    await this.notify(brokerEvent('user.authorized', { user_id: input.userId, login: input.login, scopes: input.scopes }));
    if (live) await this.notifyScopeChange(live.scopes, input.scopes);
    return { sessionVersion: this.record!.sessionVersion, stored: true };
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
      const info = await validateToken(this.config, await this.accessTokenOf(grant), REQUEST_BUDGET);
      if (info !== null) this.confirmedAlive = { generation: grant.generation, at: now };
      return info !== null;
    } catch {
      return true;
    }
  }

  /** A grant's pair, or none when no configured key unseals it (a key-rotation mistake): then there is nothing to revoke. */
  private unsealPairOrLog(grant: StoredGrant): Promise<string[]> {
    return this.unsealPair(grant).catch((error: unknown) => {
      logEvent('user.revoke_skipped', { userId: this.record?.userId ?? '', reason: describeFailure(error) });
      return [];
    });
  }

  /** Queues tokens for revocation at Twitch by the alarm: right away, or a minute after a failed try. */
  private async revokeLater(tokens: string[], options: { alreadyTried?: boolean } = {}): Promise<void> {
    if (tokens.length === 0) return;
    await this.revocations.add(this.config, tokens, options);
    await this.scheduleAlarm();
  }

  /** The alarm serves two queues: revocations at Twitch and events for the app. */
  private async scheduleAlarm(): Promise<void> {
    const due = [await this.revocations.nextAttemptAt(), await this.outbox.nextAttemptAt(), this.liveRefreshDueAt()].filter(
      (at): at is number => at !== null,
    );
    if (due.length > 0) await this.ctx.storage.setAlarm(Math.min(...due));
  }

  /**
   * With live connections open, nobody may ask for a token before it expires: the vault refreshes
   * on its own shortly before, and pushes the new one (after a failed try, once the backoff allows).
   */
  private liveRefreshDueAt(): number | null {
    const grant = this.record?.grant;
    if (!grant || this.record?.status !== 'active' || !this.live.connected) return null;
    return Math.max(grant.expiresAt - USER_REFRESH_MARGIN_MS, Date.now() + this.backoff.remainingMs());
  }

  /** GET /token/users/:id/live, forwarded by the Worker once it has checked the key and the user. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    await this.load();
    const current = await this.currentToken();
    if (!current.ok) return new Response('no grant', { status: 404 });
    const response = this.live.accept({ type: 'token', ...userTokenBody(current.token, this.config.clientId) }, request, this.config.liveTokenMaxSockets);
    await this.scheduleAlarm();
    return response;
  }

  /** Live connections hear of a new token at once. */
  private async pushCurrentToken(): Promise<void> {
    if (!this.live.connected) return;
    const current = await this.currentToken();
    if (current.ok) this.live.broadcast({ type: 'token', ...userTokenBody(current.token, this.config.clientId) });
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    socket.close(code === 1005 ? 1000 : code, 'closed');
  }

  /** Tells the app (NOTIFY_URL) about an event of this user, from the alarm, never on the request path. */
  private async notify(event: BrokerEvent): Promise<void> {
    if (!this.config.notify) return;
    await this.outbox.add(this.config, event);
    await this.scheduleAlarm();
  }

  /** Revokes queued tokens at Twitch and delivers queued events; failures come back with backoff. */
  override async alarm(): Promise<void> {
    const record = await this.load();
    if (!record) return;
    await this.revocations.runDue(this.config, record.userId);
    await this.outbox.deliverDue(this.config);
    const liveDue = this.liveRefreshDueAt();
    if (liveDue !== null && liveDue <= Date.now()) await this.refreshOnce(BACKGROUND_BUDGET);
    await this.scheduleAlarm();
  }

  /**
   * Hands out a usable access token, refreshing first when under five minutes remain.
   * `sessionVersion`, when given, must match: that is how revoked sessions are refused.
   * `forceRefresh`: the caller's Helix call was refused with the token it was given; the token is
   * checked with Twitch first and refreshed only if Twitch says it is dead.
   */
  async getAccessToken(request: { sessionVersion?: number; forceRefresh?: boolean } = {}): Promise<UserTokenResult> {
    const record = await this.load();
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
      const current = this.record?.grant;
      if (checked.kind === 'unavailable' && (!current || current.expiresAt <= Date.now())) {
        return { ok: false, error: 'temporarily_unavailable', retryAfterSeconds: checked.retryAfterSeconds };
      }
    }

    const grant = this.record?.grant;
    if (grant && grant.expiresAt - Date.now() <= USER_REFRESH_MARGIN_MS) {
      const result = await this.refreshOnce(REQUEST_BUDGET);
      if (result.kind === 'revoked') return { ok: false, error: 'reauthorization_required' };
      if (result.kind === 'unavailable') {
        // A token that still works is better than an error: refresh ahead of expiry makes this common.
        const current = this.record?.grant;
        if (!current || current.expiresAt <= Date.now()) {
          return { ok: false, error: 'temporarily_unavailable', retryAfterSeconds: result.retryAfterSeconds };
        }
      }
    }
    const latest = this.record?.grant;
    if (expired && latest && latest.generation !== expired.generation && Date.now() - expired.at >= SET_ASIDE_AFTER_MS - SET_ASIDE_CLOCK_SLACK_MS) {
      await this.rejoinSweep(copyOf(latest));
    }
    return this.currentToken();
  }

  private async currentToken(): Promise<UserTokenResult> {
    const record = this.record;
    if (!record?.grant) return { ok: false, error: record?.status === 'revoked' ? 'reauthorization_required' : 'not_found' };
    return {
      ok: true,
      token: {
        accessToken: await this.accessTokenOf(record.grant),
        expiresAt: record.grant.expiresAt,
        obtainedAt: record.grant.obtainedAt,
        scopes: record.grant.scopes,
        userId: record.userId,
        login: record.login,
      },
    };
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
    const grant = this.record?.grant;
    if (!grant || this.record?.status !== 'active') return { kind: 'revoked' };
    const now = Date.now();
    if (this.confirmedAlive?.generation === grant.generation && now - this.confirmedAlive.at < FORCED_CHECK_WINDOW_MS) {
      return { kind: 'alive' };
    }
    let info;
    try {
      info = await validateToken(this.config, await this.accessTokenOf(grant), REQUEST_BUDGET);
    } catch (error) {
      await this.audit.append(this.record!.userId, 'validate_failed', describeFailure(error));
      return { kind: 'unavailable', retryAfterSeconds: error instanceof TwitchError ? error.retryAfterSeconds : 1 };
    }
    if (info !== null) {
      this.confirmedAlive = { generation: grant.generation, at: now };
      return { kind: 'alive' };
    }
    await this.neverServeAgain(grant);
    return this.refreshOnce(REQUEST_BUDGET);
  }

  /** Twitch called this grant's access token dead: it is never served again, even if the refresh that follows fails. */
  private async neverServeAgain(grant: StoredGrant): Promise<void> {
    const current = this.record;
    if (current?.grant?.generation === grant.generation) {
      await this.save({ ...current, grant: { ...current.grant, expiresAt: Math.min(current.grant.expiresAt, Date.now()) } });
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
    const record = await this.load();
    const grant = record?.grant;
    if (!record || !grant || record.status !== 'active') return { kind: 'revoked' };

    // After a failure (or a 429) callers are not sent to Twitch until the backoff has passed.
    const waitMs = this.backoff.remainingMs();
    if (waitMs > 0) return { kind: 'unavailable', retryAfterSeconds: Math.ceil(waitMs / 1000) };

    const config = this.config;
    const refreshToken = await unseal(grant.sealedRefreshToken, this.purpose('refresh'), config.tokenKeys);
    let fresh;
    try {
      fresh = await refreshUserToken(config, refreshToken, budget);
    } catch (error) {
      if (error instanceof TwitchError && error.isDeadRefreshToken) {
        // A login (or logout) while we waited replaced the grant: the refusal is about the old one.
        const current = this.record;
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
    const current = this.record;
    if (!current?.grant || current.grant.generation !== grant.generation) {
      // The grant changed while Twitch answered (logout, new login): this pair is not ours to keep.
      await this.revokeLater([fresh.accessToken, fresh.refreshToken]);
      return current?.grant ? { kind: 'refreshed' } : { kind: 'revoked' };
    }
    // Persist the new pair, including Twitch's newest refresh token, before anyone is answered.
    const sealed = await this.sealPair(current.userId, fresh.accessToken, fresh.refreshToken);
    const now = Date.now();
    await this.save({
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
    this.plainAccessToken = { generation: grant.generation + 1, token: fresh.accessToken };
    // A token Twitch just issued needs no forced check: callers who raced the refresh share it.
    this.confirmedAlive = { generation: grant.generation + 1, at: now };
    await this.audit.append(current.userId, 'refreshed');
    await this.pushCurrentToken();
    if (fresh.scopes.length > 0) await this.notifyScopeChange(current.grant.scopes, fresh.scopes);
    return { kind: 'refreshed' };
  }

  /** Tells the app when Twitch reports other scopes than the broker held (a refresh, a validation). */
  private async notifyScopeChange(previous: readonly string[], scopes: readonly string[]): Promise<void> {
    const record = this.record;
    if (!record || sameScopes(previous, scopes)) return;
    await this.notify(brokerEvent('user.scopes_changed', { user_id: record.userId, login: record.login, previous_scopes: previous, scopes }));
  }

  /** Twitch has definitively refused the grant: forget the tokens, keep the user marked revoked. */
  private async markRevoked(reason: string, notifiedAs: RevocationReason): Promise<void> {
    const record = this.record;
    if (!record) return;
    await this.save({
      ...record,
      status: 'revoked',
      grant: null,
      lastGeneration: record.grant?.generation ?? record.lastGeneration,
      revokedAt: Date.now(),
      sessionVersion: record.sessionVersion + 1,
    });
    this.plainAccessToken = null;
    // The directory must not go on counting a copy of a revoked grant's access token as validated.
    await this.forgetDirectoryCopy();
    recordRevocation(notifiedAs);
    await this.audit.append(record.userId, 'revoked', reason);
    this.live.broadcast({ type: 'revoked', reason: notifiedAs });
    await this.notify(brokerEvent('user.revoked', { user_id: record.userId, login: record.login, reason: notifiedAs }));
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
    const loaded = await this.load();
    if (!loaded?.grant || loaded.status !== 'active') return { outcome: 'inactive', lastValidatedAt: null };
    // After a key rotation every visit re-seals the grant, refresh token included, whatever it does
    // next: the old key may be retired once a sweep has passed (README: key rotation).
    const resealed = await this.resealedIfOldKey(loaded.grant);
    if (Object.keys(resealed).length > 0) await this.save({ ...loaded, grant: { ...loaded.grant, ...resealed } });
    const record = this.record!;
    const grant = record.grant!;
    const now = Date.now();
    const lastProof = Math.max(grant.lastValidatedAt, this.validatedInMemory?.generation === grant.generation ? this.validatedInMemory.at : 0);
    if (!options.force && grant.expiresAt <= now) return { outcome: 'idle', lastValidatedAt: lastProof, expiredAt: grant.expiresAt };
    if (!options.force && now - lastProof < VALIDATION_SKIP_WINDOW_MS) {
      return { outcome: 'skipped', lastValidatedAt: lastProof, copy: copyOf(grant) };
    }
    // A copy with time to live is validated by the directory itself: this vault need not wait for Twitch.
    if (options.handover && !options.force && options.deadGeneration === undefined && grant.expiresAt - now > USER_REFRESH_MARGIN_MS) {
      return { outcome: 'handed_over', lastValidatedAt: lastProof, copy: copyOf(grant) };
    }

    let info;
    if (options.deadGeneration === grant.generation) {
      // Twitch called this very token invalid moments ago: asking again would only cost a call.
      info = null;
    } else {
      try {
        info = await validateToken(this.config, await this.accessTokenOf(grant), BACKGROUND_BUDGET);
      } catch (error) {
        await this.audit.append(record.userId, 'validate_failed', describeFailure(error));
        return { outcome: 'failed', lastValidatedAt: lastProof };
      }
    }
    if (info === null) {
      await this.neverServeAgain(grant);
      const result = await this.refreshOnce(BACKGROUND_BUDGET);
      const current = this.record?.grant;
      const lastValidatedAt = current?.lastValidatedAt ?? null;
      if (result.kind === 'refreshed') return { outcome: 'refreshed', lastValidatedAt, ...(current ? { copy: copyOf(current) } : {}) };
      return { outcome: result.kind === 'revoked' ? 'revoked' : 'failed', lastValidatedAt };
    }

    const current = this.record;
    if (current?.grant?.generation === grant.generation) {
      this.validatedInMemory = { generation: grant.generation, at: now };
      const resealed = await this.resealedIfOldKey(current.grant);
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
        await this.save({ ...current, login, grant: { ...current.grant, ...resealed, lastValidatedAt: now, expiresAt, scopes } });
        await this.notifyScopeChange(current.grant.scopes, scopes);
      }
    }
    // An operator's forced sweep (rare, and asked for) is worth an entry in the user's own trail.
    if (options.force) await this.audit.append(record.userId, 'validated');
    const latest = this.record?.grant;
    return { outcome: 'validated', lastValidatedAt: now, ...(latest ? { copy: copyOf(latest) } : {}), ...(info.login ? { login: info.login } : {}) };
  }

  /**
   * Tells the sweep's directory that this user has a token in use again (it may have set them
   * aside as idle), with the copy of that token, so the directory's next visit need not wake this
   * vault for it. Once per long idle spell, not per request; a failure only costs that user their
   * visits until the next login, so it is logged and the caller is served anyway.
   */
  private rejoinSweep(copy: AccessCopy): Promise<void> {
    const userId = this.record?.userId;
    if (!userId) return Promise.resolve();
    this.rejoinInFlight ??= directoryFor(this.env, userId)
      .rejoin(userId, copy)
      .catch((error: unknown) => {
        logEvent('sweep.rejoin_failed', { userId, reason: error instanceof Error ? error.name : 'unknown' });
      })
      .finally(() => {
        this.rejoinInFlight = null;
      });
    return this.rejoinInFlight;
  }

  /**
   * The sweep's directory validates a copy of the access token until it nears expiry. When the
   * token is replaced early (an operator's refresh) or dropped (logout, deletion) the copy is
   * forgotten, so the directory asks this vault at the next visit instead of validating a token no
   * longer in use. Best effort: the replaced token is revoked at Twitch, and a 401 on the copy
   * sends the directory here anyway.
   */
  private async forgetDirectoryCopy(): Promise<void> {
    const userId = this.record?.userId;
    if (!userId) return;
    try {
      await directoryFor(this.env, userId).forgetCopy(userId);
    } catch (error) {
      logEvent('sweep.forget_copy_failed', { userId, reason: error instanceof Error ? error.name : 'unknown' });
    }
  }

  /** Values sealed with a retired key are re-sealed with the newest one on their next write. */
  private async resealedIfOldKey(grant: StoredGrant): Promise<Partial<StoredGrant>> {
    const keys = this.config.tokenKeys;
    if (!(await isSealedWithOldKey(grant.sealedRefreshToken, keys)) && !(await isSealedWithOldKey(grant.sealedAccessToken, keys))) {
      return {};
    }
    const [accessToken, refreshToken] = await this.unsealPair(grant);
    return this.sealPair(this.record!.userId, accessToken, refreshToken);
  }

  /**
   * Logout: revoke both tokens at Twitch (best effort: the user is logged out here either way),
   * forget the grant and end every session of this user.
   */
  async logout(sessionVersion: number): Promise<'logged_out' | 'session_revoked'> {
    const record = await this.load();
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
    const record = await this.load();
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
    const record = await this.load();
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
    await this.save({
      ...record,
      status,
      grant: null,
      lastGeneration: grant?.generation ?? record.lastGeneration,
      sessionVersion: record.sessionVersion + 1,
    });
    this.plainAccessToken = null;
    if (grant) await this.forgetDirectoryCopy();
    let failed: string[] = [];
    if (grant) {
      const config = this.config;
      const tokens = await this.unsealPairOrLog(grant);
      const results = await Promise.allSettled(tokens.map((token) => revokeToken(config, token)));
      failed = tokens.filter((_token, index) => results[index]!.status === 'rejected');
      await this.revokeLater(failed, { alreadyTried: true });
    }
    await this.audit.append(record.userId, status, failed.length ? `${failed.length} revocation(s) at Twitch failed; retrying` : undefined);
    this.live.broadcast({ type: 'revoked', reason: status });
    if (grant) await this.notify(brokerEvent('user.revoked', { user_id: record.userId, login: record.login, reason: status }));
  }

  /** Ends every outstanding session of this user without touching the grant. */
  async revokeSessions(sessionVersion: number): Promise<'sessions_revoked' | 'session_revoked'> {
    const record = await this.load();
    if (!record || record.sessionVersion !== sessionVersion) return 'session_revoked';
    await this.save({ ...record, sessionVersion: record.sessionVersion + 1 });
    await this.audit.append(record.userId, 'sessions_revoked');
    return 'sessions_revoked';
  }

  /** The scopes of the live grant, for the holder of a current session; null otherwise. */
  async storedScopes(sessionVersion: number): Promise<string[] | null> {
    const record = await this.load();
    if (!record || record.sessionVersion !== sessionVersion || record.status !== 'active') return null;
    return record.grant?.scopes ?? null;
  }

  // --- The admin console's operations (src/admin/): a summary without secrets, a forced refresh. ---

  /** What an operator may see of this user, or null for a user this broker never saw. No token. */
  async summary(): Promise<UserSummary | null> {
    const record = await this.load();
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
    const record = await this.load();
    if (!record) return { outcome: 'not_found' };
    const grant = record.grant;
    if (!grant || record.status !== 'active') return { outcome: 'no_grant', status: record.status };
    await this.audit.append(record.userId, 'refresh_forced', `by API key ${operator}`);
    const result = await this.refreshOnce(REQUEST_BUDGET);
    if (result.kind === 'revoked') return { outcome: 'revoked' };
    if (result.kind === 'unavailable') return { outcome: 'unavailable', retryAfterSeconds: result.retryAfterSeconds };
    const current = this.record?.grant;
    if (!current) return { outcome: 'revoked' };
    if (current.generation !== grant.generation) {
      const [replaced, fresh] = await Promise.all([
        unseal(grant.sealedAccessToken, this.purpose('access'), this.config.tokenKeys).catch(() => null),
        this.accessTokenOf(current),
      ]);
      if (replaced !== null && replaced !== fresh) await this.revokeLater([replaced]);
      await this.forgetDirectoryCopy();
    }
    return { outcome: 'refreshed', expiresAt: current.expiresAt };
  }

  // --- End of the console's operations. ---

  /** The user's audit trail, or null for a user this broker never saw. */
  async events(): Promise<AuditEvent[] | null> {
    return (await this.load()) ? this.audit.list() : null;
  }
}
