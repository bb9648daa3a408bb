import { getConfig, type Config } from '../config';
import type { Env } from '../env';
import { tokenFailureError, unknownUser } from '../errors';
import { logEvent } from '../log';
import { brokerEvent, type BrokerEvent } from '../notify/broker-event';
import { NotificationOutbox } from '../notify/outbox';
import { userTokenBody } from '../tokens/token-body';
import type { GrantStore } from './grant-store';
import { LiveTokenSockets } from './live-tokens';
import type { RefreshBackoff } from './refresh-backoff';
import { RevocationQueue } from './revocation-queue';
import { directoryFor } from './stubs';
import { USER_REFRESH_MARGIN_MS } from './timing';
import type { AccessCopy } from './vault-types';

const sameScopes = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().join(' ') === [...b].sort().join(' ');

/**
 * What a vault's changes set off beyond its own record: tokens queued for revocation at Twitch,
 * events queued for the app, new tokens pushed to live connections, the alarm that works the
 * queues, and the sweep's directory told of a copy to forget or a user to visit again.
 */
export class VaultEffects {
  /** Tokens this vault no longer wants, revoked at Twitch by the alarm. */
  private readonly revocations: RevocationQueue;
  /** Events for the app (NOTIFY_URL), delivered in order by the alarm. */
  private readonly outbox: NotificationOutbox;
  /** Bots holding a live connection for this user's tokens. */
  private readonly live: LiveTokenSockets;
  private rejoinInFlight: Promise<void> | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: () => Env,
    private readonly store: GrantStore,
    /** The vault's refresh backoff: a live connection's refresh waits for it too. */
    private readonly backoff: RefreshBackoff,
  ) {
    this.revocations = new RevocationQueue(ctx.storage, () => store.purpose('revoke'));
    this.outbox = new NotificationOutbox(ctx.storage);
    this.live = new LiveTokenSockets(ctx);
  }

  private get config(): Config {
    return getConfig(this.env());
  }

  /** Queues tokens for revocation at Twitch by the alarm: right away, or a minute after a failed try. */
  async revokeLater(tokens: string[], options: { alreadyTried?: boolean } = {}): Promise<void> {
    if (tokens.length === 0) return;
    await this.revocations.add(this.config, tokens, options);
    await this.scheduleAlarm();
  }

  /** The alarm serves two queues: revocations at Twitch and events for the app. */
  async scheduleAlarm(): Promise<void> {
    const due = [await this.revocations.nextAttemptAt(), await this.outbox.nextAttemptAt(), this.liveRefreshDueAt()].filter((at): at is number => at !== null);
    if (due.length > 0) await this.ctx.storage.setAlarm(Math.min(...due));
  }

  /** Revokes queued tokens at Twitch and delivers queued events (the alarm's queue work). */
  async runDueQueues(userId: string): Promise<void> {
    await this.revocations.runDue(this.config, userId);
    await this.outbox.deliverDue(this.config);
  }

  /**
   * With live connections open, nobody may ask for a token before it expires: the vault refreshes
   * on its own shortly before, and pushes the new one (after a failed try, once the backoff allows).
   */
  liveRefreshDueAt(): number | null {
    const grant = this.store.current?.grant;
    if (!grant || this.store.current?.status !== 'active' || !this.live.connected) return null;
    return Math.max(grant.expiresAt - USER_REFRESH_MARGIN_MS, Date.now() + this.backoff.remainingMs());
  }

  /** Accepts a live connection (the record loaded): it gets the current token at once, or a 404 without a grant. */
  async openLive(request: Request): Promise<Response> {
    const current = await this.store.currentToken();
    // The grant ended between the route's checks and here: the route's own error bodies.
    if (!current.ok) return tokenFailureError(current, unknownUser()).toResponse();
    const response = this.live.accept({ type: 'token', ...userTokenBody(current.token, this.config.clientId) }, request, this.config.liveTokenMaxSockets);
    await this.scheduleAlarm();
    return response;
  }

  /** Live connections hear of a new token at once. */
  async pushCurrentToken(): Promise<void> {
    if (!this.live.connected) return;
    const current = await this.store.currentToken();
    if (current.ok) this.live.broadcast({ type: 'token', ...userTokenBody(current.token, this.config.clientId) });
  }

  /** Live connections hear that the grant is gone, and are closed. */
  broadcastRevoked(reason: string): void {
    this.live.broadcast({ type: 'revoked', reason });
  }

  /** Tells the app (NOTIFY_URL) about an event of this user, from the alarm, never on the request path. */
  async notify(event: BrokerEvent): Promise<void> {
    if (!this.config.notify) return;
    await this.outbox.add(this.config, event);
    await this.scheduleAlarm();
  }

  /** Tells the app when Twitch reports other scopes than the broker held (a refresh, a validation). */
  async notifyScopeChange(previous: readonly string[], scopes: readonly string[]): Promise<void> {
    const record = this.store.current;
    if (!record || sameScopes(previous, scopes)) return;
    await this.notify(brokerEvent('user.scopes_changed', { user_id: record.userId, login: record.login, previous_scopes: previous, scopes }));
  }

  /**
   * Tells the sweep's directory that this user has a token in use again (it may have set them
   * aside as idle), with the copy of that token, so the directory's next visit need not wake this
   * vault for it. Once per long idle spell, not per request; a failure only costs that user their
   * visits until the next login, so it is logged and the caller is served anyway.
   */
  rejoinSweep(copy: AccessCopy): Promise<void> {
    const userId = this.store.current?.userId;
    if (!userId) return Promise.resolve();
    this.rejoinInFlight ??= directoryFor(this.env(), userId)
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
  async forgetDirectoryCopy(): Promise<void> {
    const userId = this.store.current?.userId;
    if (!userId) return;
    try {
      await directoryFor(this.env(), userId).forgetCopy(userId);
    } catch (error) {
      logEvent('sweep.forget_copy_failed', { userId, reason: error instanceof Error ? error.name : 'unknown' });
    }
  }
}
