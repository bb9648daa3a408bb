import { DurableObject } from 'cloudflare:workers';
import { getConfig, type Config } from '../config';
import type { Env } from '../env';
import { upgradeRequired } from '../errors';
import { BACKGROUND_BUDGET } from '../twitch/twitch-fetch';
import type { AuditEvent } from './audit-trail';
import { GrantEnding } from './grant-ending';
import { GrantStore } from './grant-store';
import { LoginGrant } from './login-grant';
import { ProofsOfLife } from './proofs-of-life';
import { RefreshBackoff } from './refresh-backoff';
import { SweepValidation } from './sweep-validation';
import { TokenLifecycle } from './token-lifecycle';
import { VaultConsole } from './vault-console';
import { VaultEffects } from './vault-effects';
import type { ForcedRefreshOutcome, NewGrant, StoreGrantOutcome, UserSummary, UserTokenResult, UserValidation, ValidateOptions } from './vault-types';

/**
 * One Durable Object per Twitch user id: the RPC surface over the user's grant. It is the only
 * place a user's refresh token is ever used, so refreshes are serialised here (TokenLifecycle):
 * concurrent callers share one in-flight refresh. The work lives in modules with one job each:
 * the stored record (GrantStore), serving and refreshing (TokenLifecycle), the sweep's check
 * (SweepValidation), a login's grant (LoginGrant), a grant's end (GrantEnding), the console's
 * operations (VaultConsole) and what all of them set off (VaultEffects).
 */
export class UserVault extends DurableObject<Env> {
  private readonly store = new GrantStore(this.ctx.storage, () => this.config);
  private readonly proofs = new ProofsOfLife();
  private readonly backoff = new RefreshBackoff();
  private readonly effects = new VaultEffects(this.ctx, () => this.env, this.store, this.backoff);
  private readonly ending = new GrantEnding(this.store, this.effects, () => this.config);
  private readonly lifecycle = new TokenLifecycle(this.store, this.effects, this.ending, this.proofs, this.backoff, () => this.config);
  private readonly sweepCheck = new SweepValidation(this.store, this.lifecycle, this.ending, this.effects, this.proofs, () => this.config);
  private readonly login = new LoginGrant(this.store, this.effects, this.ending, this.proofs, () => this.config);
  private readonly adminConsole = new VaultConsole(this.store, this.lifecycle, this.effects, this.proofs);

  /** Read on every use, never kept: the bindings may be swapped under a live object (tests do). */
  private get config(): Config {
    return getConfig(this.env);
  }

  /**
   * Stores the grant from a completed login and returns the user's session version, unless the
   * login would narrow a live grant that holds more scopes (`stored: false`; see LoginGrant).
   */
  storeGrant(input: NewGrant): Promise<StoreGrantOutcome> {
    return this.login.store(input);
  }

  /** GET /token/users/:id/live, forwarded by the Worker once it has checked the key and the user. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') return upgradeRequired().toResponse();
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
    if (liveDue !== null && liveDue <= Date.now()) await this.lifecycle.refreshOnce(BACKGROUND_BUDGET);
    await this.effects.scheduleAlarm();
  }

  /**
   * Hands out a usable access token, refreshing first when under five minutes remain.
   * `sessionVersion`, when given, must match: that is how revoked sessions are refused.
   * `forceRefresh`: the caller's Helix call was refused with the token it was given; the token is
   * checked with Twitch first and refreshed only if Twitch says it is dead.
   */
  getAccessToken(request: { sessionVersion?: number; forceRefresh?: boolean } = {}): Promise<UserTokenResult> {
    return this.lifecycle.serve(request);
  }

  /** The sweep's check of this user (see SweepValidation). */
  validate(options: ValidateOptions = {}): Promise<UserValidation> {
    return this.sweepCheck.validate(options);
  }

  /**
   * Logout: revoke both tokens at Twitch (best effort: the user is logged out here either way),
   * forget the grant and end every session of this user.
   */
  async logout(sessionVersion: number): Promise<'logged_out' | 'session_revoked'> {
    const record = await this.store.load();
    if (!record || record.sessionVersion !== sessionVersion) return 'session_revoked';
    await this.ending.endGrant(record, 'logged_out');
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
    await this.ending.endGrant(record, 'deleted');
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
      await this.ending.markRevoked(reason, 'eventsub');
      return 'revoked';
    }
    // Twitch is asked now, even if it confirmed this generation moments ago: a revoke outweighs that.
    this.proofs.confirmedAlive = null;
    const checked = await this.lifecycle.checkOnce();
    if (checked.kind === 'revoked') return 'revoked';
    const late = `a revoke (${reason}) sent ${new Date(sentAt).toISOString()}, before this grant was made`;
    if (checked.kind === 'unavailable') await this.store.append('validate_failed', `${late}: kept, Twitch could not be asked`);
    else await this.store.append('validated', `${late}: kept, Twitch ${checked.kind === 'alive' ? 'confirms it alive' : 'refreshed it'}`);
    return 'kept';
  }

  /** Ends every outstanding session of this user without touching the grant. */
  async revokeSessions(sessionVersion: number): Promise<'sessions_revoked' | 'session_revoked'> {
    const record = await this.store.load();
    if (!record || record.sessionVersion !== sessionVersion) return 'session_revoked';
    await this.store.save({ ...record, sessionVersion: record.sessionVersion + 1 }, 'sessions_revoked');
    return 'sessions_revoked';
  }

  /** The scopes of the live grant, for the holder of a current session; null otherwise. */
  async storedScopes(sessionVersion: number): Promise<string[] | null> {
    const record = await this.store.load();
    if (!record || record.sessionVersion !== sessionVersion || record.status !== 'active') return null;
    return record.grant?.scopes ?? null;
  }

  /** What an operator may see of this user, or null for a user this broker never saw. No token. */
  summary(): Promise<UserSummary | null> {
    return this.adminConsole.summary();
  }

  /** An operator's refresh (`POST /admin/users/:id/refresh`), through the same single flight as every refresh. */
  forceRefresh(operator: string): Promise<ForcedRefreshOutcome> {
    return this.adminConsole.forceRefresh(operator);
  }

  /** The user's audit trail, or null for a user this broker never saw. */
  async events(): Promise<AuditEvent[] | null> {
    return (await this.store.load()) ? this.store.events : null;
  }
}
