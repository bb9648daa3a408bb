import { DurableObject } from 'cloudflare:workers';
import { getConfig } from '../config';
import { isSealedWithOldKey, seal, unseal } from '../crypto/seal';
import type { Env } from '../env';
import { logEvent } from '../log';
import { mintAppToken, validateToken } from '../twitch/identity';
import { describeFailure, TwitchError } from '../twitch/twitch-error';
import { BACKGROUND_BUDGET, REQUEST_BUDGET, type CallBudget } from '../twitch/twitch-fetch';
import { brokerEvent } from '../notify/broker-event';
import { NotificationOutbox } from '../notify/outbox';
import { APP_TOKEN_SEAL_PURPOSE as SEAL_PURPOSE, publishAppToken } from './app-token-cache';
import { APP_TOKEN_RENEW_MARGIN_MS, APP_TOKEN_SERVE_MARGIN_MS } from './timing';
import type { AppAccessToken, AppTokenCheck, AppTokenResult } from './vault-types';

interface StoredAppToken {
  sealedAccessToken: string;
  expiresAt: number;
  mintedAt: number;
}

const RECORD_KEY = 'app-token';
/**
 * At most one forced check (validate, then mint only if dead) per this window: a caller that keeps
 * getting 401 from Helix for some other reason must not make the broker validate or mint in a loop.
 */
const FORCED_CHECK_INTERVAL_MS = 60_000;

/**
 * The one place the app access token is minted. Every isolate that misses the KV cache asks this
 * single object, and concurrent askers share one in-flight mint: cold bursts mint exactly once.
 */
export class AppTokenMinter extends DurableObject<Env> {
  private current: AppAccessToken | null = null;
  private mintInFlight: Promise<AppTokenResult> | null = null;
  /** Events for the app (NOTIFY_URL): `app_token.rotated`. */
  private readonly outbox = new NotificationOutbox(this.ctx.storage);
  private forcedCheckInFlight: Promise<AppTokenResult> | null = null;
  /** In memory only: an evicted minter allows one extra check, which is harmless. */
  private lastForcedCheckAt = 0;

  private async load(): Promise<AppAccessToken | null> {
    if (!this.current) {
      const stored = await this.ctx.storage.get<StoredAppToken>(RECORD_KEY);
      if (stored) {
        const accessToken = await unseal(stored.sealedAccessToken, SEAL_PURPOSE, getConfig(this.env).tokenKeys);
        this.current = { accessToken, expiresAt: stored.expiresAt };
      }
    }
    return this.current;
  }

  /** What the admin console shows of the app token: whether one is held, its expiry and when it was minted. Never the token. */
  async status(): Promise<{ expiresAt: number; mintedAt: number } | null> {
    const stored = await this.ctx.storage.get<StoredAppToken>(RECORD_KEY);
    return stored ? { expiresAt: stored.expiresAt, mintedAt: stored.mintedAt } : null;
  }

  /** The current app token, minted first if there is none or it is about to expire. */
  async getToken(): Promise<AppTokenResult> {
    const current = await this.load();
    if (current && current.expiresAt - Date.now() > APP_TOKEN_SERVE_MARGIN_MS) return { ok: true, token: current };
    return this.mintOnce(REQUEST_BUDGET);
  }

  /**
   * For a caller whose Helix call was refused with the token we served (KV and isolate memory may
   * still hold a token Twitch has dropped): validate the current token and mint only if it is dead.
   * Concurrent callers share one check; callers within a minute of the last check get the current token.
   */
  async getTokenAfterRejection(): Promise<AppTokenResult> {
    if (this.forcedCheckInFlight) return this.forcedCheckInFlight;
    if (Date.now() - this.lastForcedCheckAt < FORCED_CHECK_INTERVAL_MS) return this.getToken();
    this.lastForcedCheckAt = Date.now();
    this.forcedCheckInFlight = this.mintIfDead().finally(() => {
      this.forcedCheckInFlight = null;
    });
    return this.forcedCheckInFlight;
  }

  private async mintIfDead(): Promise<AppTokenResult> {
    const current = await this.load();
    if (!current || current.expiresAt - Date.now() <= APP_TOKEN_SERVE_MARGIN_MS) return this.mintOnce(REQUEST_BUDGET);
    try {
      if (await validateToken(getConfig(this.env), current.accessToken, REQUEST_BUDGET)) return { ok: true, token: current };
    } catch (error) {
      // Twitch cannot say whether the token is dead; minting blind would likely fail the same way.
      logEvent('app_token.validate_failed', { reason: describeFailure(error) });
      return { ok: true, token: current };
    }
    logEvent('app_token.rejected_by_twitch', {});
    return this.mintOnce(REQUEST_BUDGET);
  }

  /** The hourly check: validate the token; mint a new one on 401 or with under a day left. */
  async validate(): Promise<AppTokenCheck> {
    const current = await this.load();
    if (current && current.expiresAt - Date.now() > APP_TOKEN_RENEW_MARGIN_MS) {
      try {
        const info = await validateToken(getConfig(this.env), current.accessToken, BACKGROUND_BUDGET);
        if (info && (info.expiresAt === null || info.expiresAt - Date.now() > APP_TOKEN_RENEW_MARGIN_MS)) {
          await this.republish(current);
          return 'valid';
        }
      } catch (error) {
        logEvent('app_token.validate_failed', { reason: describeFailure(error) });
        return 'failed';
      }
    }
    const minted = await this.mintOnce(BACKGROUND_BUDGET);
    return minted.ok ? 'minted' : 'failed';
  }

  private mintOnce(budget: CallBudget): Promise<AppTokenResult> {
    this.mintInFlight ??= this.mint(budget).finally(() => {
      this.mintInFlight = null;
    });
    return this.mintInFlight;
  }

  private async mint(budget: CallBudget): Promise<AppTokenResult> {
    const config = getConfig(this.env);
    let token;
    try {
      token = await mintAppToken(config, budget);
    } catch (error) {
      logEvent('app_token.mint_failed', { reason: describeFailure(error) });
      return {
        ok: false,
        error: 'temporarily_unavailable',
        retryAfterSeconds: error instanceof TwitchError ? error.retryAfterSeconds : 5,
      };
    }
    const sealedAccessToken = await seal(token.accessToken, SEAL_PURPOSE, config.tokenKeys);
    await this.ctx.storage.put<StoredAppToken>(RECORD_KEY, { sealedAccessToken, expiresAt: token.expiresAt, mintedAt: Date.now() });
    this.current = token;
    await publishAppToken(this.env.APP_TOKEN_CACHE, sealedAccessToken, token.expiresAt);
    logEvent('app_token.minted', {});
    // Apps that hold the app token themselves (EventSub over WebSocket, chat) hear of the new one.
    if (config.notify) {
      await this.outbox.add(config, brokerEvent('app_token.rotated', { expires_at: new Date(token.expiresAt).toISOString() }));
      await this.scheduleDelivery();
    }
    return { ok: true, token };
  }

  private async scheduleDelivery(): Promise<void> {
    const next = await this.outbox.nextAttemptAt();
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  /** Delivers queued events to the app (NOTIFY_URL); failures come back with backoff. */
  override async alarm(): Promise<void> {
    await this.outbox.deliverDue(getConfig(this.env));
    await this.scheduleDelivery();
  }

  /**
   * The hourly check publishes the token to KV again (re-sealed with the newest key after a key
   * rotation), so the KV copy, which expires after a day at most, never lapses while the token
   * lives: otherwise every isolate missing its memory would ask this one object for most of the
   * token's ~58-day life. One KV write an hour.
   */
  private async republish(token: AppAccessToken): Promise<void> {
    const keys = getConfig(this.env).tokenKeys;
    const stored = await this.ctx.storage.get<StoredAppToken>(RECORD_KEY);
    if (!stored) return;
    let sealedAccessToken = stored.sealedAccessToken;
    if (await isSealedWithOldKey(sealedAccessToken, keys)) {
      sealedAccessToken = await seal(token.accessToken, SEAL_PURPOSE, keys);
      await this.ctx.storage.put<StoredAppToken>(RECORD_KEY, { ...stored, sealedAccessToken });
    }
    await publishAppToken(this.env.APP_TOKEN_CACHE, sealedAccessToken, token.expiresAt);
  }
}
