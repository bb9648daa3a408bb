import { DurableObject } from 'cloudflare:workers';
import { getConfig } from '../config';
import { seal, unseal } from '../crypto/seal';
import type { Env } from '../env';
import { logEvent } from '../log';
import { pollDeviceToken, validateToken, type DeviceAuthorization, type UserTokenGrant } from '../twitch/identity';
import { describeFailure, TwitchError } from '../twitch/twitch-error';
import { BACKGROUND_BUDGET, REQUEST_BUDGET } from '../twitch/twitch-fetch';
import { storeIssuedGrant } from '../vault/store-grant';

/** One device login in progress. The device code (and a grant awaiting confirmation) are sealed. */
interface DeviceRecord {
  sealedDeviceCode: string;
  scopes: string[];
  expiresAt: number;
  intervalMs: number;
  /** Twitch is not asked again before this, however often the broker is. */
  nextPollAt: number;
  /** A grant Twitch issued whose user /oauth2/validate has not confirmed yet (the code is spent). */
  sealedGrant: { accessToken: string; refreshToken: string; expiresAt: number; scopes: string[] } | null;
}

/** What one poll came to. */
export type DevicePollResult =
  /** `scopes`: the grant this login got; `storedScopes`: the grant the broker holds (a broader one it kept when `grantStored` is false). */
  | { status: 'authorized'; userId: string; login: string; scopes: string[]; grantStored: boolean; storedScopes: string[] }
  | { status: 'authorization_pending' | 'slow_down' | 'expired_token' | 'access_denied' }
  | { status: 'temporarily_unavailable'; retryAfterSeconds: number };

const RECORD_KEY = 'device';
const PURPOSE = 'device';

/**
 * The Device Code Grant Flow for one bot login (headless: no browser comes back). The device code
 * never leaves this object: the caller holds a poll token that names it. Polls are single flight
 * and never reach Twitch faster than the interval Twitch set (plus 5 s per `slow_down`).
 */
export class DeviceFlow extends DurableObject<Env> {
  private pollInFlight: Promise<DevicePollResult> | null = null;

  /** Remembers a fresh device authorization until it expires. */
  async start(authorization: DeviceAuthorization, scopes: string[]): Promise<void> {
    const keys = getConfig(this.env).tokenKeys;
    await this.ctx.storage.put<DeviceRecord>(RECORD_KEY, {
      sealedDeviceCode: await seal(authorization.deviceCode, PURPOSE, keys),
      scopes,
      expiresAt: authorization.expiresAt,
      intervalMs: authorization.intervalSeconds * 1000,
      nextPollAt: Date.now() + authorization.intervalSeconds * 1000,
      sealedGrant: null,
    });
    await this.ctx.storage.setAlarm(authorization.expiresAt);
  }

  /** Asks Twitch whether the user approved, at most once per interval; concurrent polls share it. */
  poll(): Promise<DevicePollResult> {
    this.pollInFlight ??= this.pollOnce().finally(() => {
      this.pollInFlight = null;
    });
    return this.pollInFlight;
  }

  private async pollOnce(): Promise<DevicePollResult> {
    const record = await this.ctx.storage.get<DeviceRecord>(RECORD_KEY);
    const now = Date.now();
    if (!record) return { status: 'expired_token' };
    if (record.sealedGrant) return this.finish(record, await this.unsealGrant(record.sealedGrant));
    if (now >= record.expiresAt) return this.end({ status: 'expired_token' });
    if (now < record.nextPollAt) return { status: 'authorization_pending' };

    const config = getConfig(this.env);
    let grant: UserTokenGrant;
    try {
      grant = await pollDeviceToken(config, await unseal(record.sealedDeviceCode, PURPOSE, config.tokenKeys), record.scopes, REQUEST_BUDGET);
    } catch (error) {
      if (!(error instanceof TwitchError) || error.kind !== 'rejected') {
        await this.ctx.storage.put(RECORD_KEY, { ...record, nextPollAt: now + record.intervalMs });
        logEvent('device.poll_failed', { reason: describeFailure(error) });
        return { status: 'temporarily_unavailable', retryAfterSeconds: Math.ceil(record.intervalMs / 1000) };
      }
      const message = error.twitchMessage.toLowerCase();
      if (message.includes('authorization_pending')) {
        await this.ctx.storage.put(RECORD_KEY, { ...record, nextPollAt: now + record.intervalMs });
        return { status: 'authorization_pending' };
      }
      if (message.includes('slow_down')) {
        const intervalMs = record.intervalMs + 5_000;
        await this.ctx.storage.put(RECORD_KEY, { ...record, intervalMs, nextPollAt: now + intervalMs });
        return { status: 'slow_down' };
      }
      // Twitch documents only authorization_pending: any other refusal ends this login.
      return this.end({ status: message.includes('access_denied') ? 'access_denied' : 'expired_token' });
    }
    // The device code is spent now: keep the grant (sealed) until it is stored, whatever fails next.
    const keys = config.tokenKeys;
    const sealedGrant = {
      accessToken: await seal(grant.accessToken, PURPOSE, keys),
      refreshToken: await seal(grant.refreshToken, PURPOSE, keys),
      expiresAt: grant.expiresAt,
      scopes: grant.scopes,
    };
    await this.ctx.storage.put<DeviceRecord>(RECORD_KEY, { ...record, sealedGrant });
    return this.finish({ ...record, sealedGrant }, grant);
  }

  /** Learns whose grant it is and stores it like a login; a Twitch failure keeps it for the next poll. */
  private async finish(record: DeviceRecord, grant: UserTokenGrant): Promise<DevicePollResult> {
    const config = getConfig(this.env);
    const info = await validateToken(config, grant.accessToken, BACKGROUND_BUDGET).catch(() => undefined);
    if (info === undefined) return { status: 'temporarily_unavailable', retryAfterSeconds: Math.ceil(record.intervalMs / 1000) };
    if (!info?.userId || !info.login) return this.end({ status: 'expired_token' });
    const { stored, scopes: storedScopes } = await storeIssuedGrant(this.env, { userId: info.userId, login: info.login, ...grant });
    logEvent('device.authorized', { userId: info.userId, grantStored: stored });
    return this.end({ status: 'authorized', userId: info.userId, login: info.login, scopes: grant.scopes, grantStored: stored, storedScopes });
  }

  private async unsealGrant(sealed: NonNullable<DeviceRecord['sealedGrant']>): Promise<UserTokenGrant> {
    const keys = getConfig(this.env).tokenKeys;
    return {
      accessToken: await unseal(sealed.accessToken, PURPOSE, keys),
      refreshToken: await unseal(sealed.refreshToken, PURPOSE, keys),
      expiresAt: sealed.expiresAt,
      scopes: sealed.scopes,
      idToken: null,
    };
  }

  /** The login is over (done, denied, expired): nothing of it stays. */
  private async end(result: DevicePollResult): Promise<DevicePollResult> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    return result;
  }

  /** Expiry: an abandoned login leaves nothing behind. */
  override async alarm(): Promise<void> {
    const record = await this.ctx.storage.get<DeviceRecord>(RECORD_KEY);
    // A grant awaiting confirmation outlives the code: the next poll may still store it.
    if (record?.sealedGrant) return;
    await this.ctx.storage.deleteAll();
  }
}
