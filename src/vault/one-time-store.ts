import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';

/** A login in progress, stored under its OAuth `state`. */
export interface LoginState {
  kind: 'login_state';
  returnTo: string;
  scopes: string[];
  redirectUri: string;
  /** Sent to Twitch with `openid` (always requested); the id_token must carry it back. */
  nonce: string;
  /** The frontend's PKCE challenge (S256), passed on to the session code; null without PKCE. */
  codeChallenge: string | null;
}

/**
 * A session handed to a frontend: exchanged once for a session token. It travels in a URL, so it is
 * bound to whoever started the login: the PKCE challenge of a cross-site frontend, or else the
 * SHA-256 of the browser's login cookie (same-site).
 */
export interface SessionCode {
  kind: 'session_code';
  userId: string;
  sessionVersion: number;
  codeChallenge: string | null;
  browserBindingHash: string | null;
}

/** A cooldown: while it lives, `claim` refuses (e.g. one forced sweep a minute). */
export interface Cooldown {
  kind: 'cooldown';
}

export type OneTimeValue = LoginState | SessionCode | Cooldown;

interface OneTimeRecord {
  value: OneTimeValue;
  expiresAt: number;
  /** SHA-256 of the secret the taker must present (the login-flow cookie), if any. */
  bindingHash: string | null;
}

export type TakeResult = { ok: true; value: OneTimeValue } | { ok: false; reason: 'missing' | 'expired' | 'binding_mismatch' };

const RECORD_KEY = 'record';

/**
 * One object per single-use value (an OAuth state, a session code), addressed by a hash of the
 * value's unguessable name (see `oneTimeStore` in stubs.ts). `take` is atomic: a second take finds
 * nothing, so replays fail.
 */
export class OneTimeStore extends DurableObject<Env> {
  /** Stores `value` until `ttlMs` from now; an alarm erases it then. */
  async put(value: OneTimeValue, ttlMs: number, bindingHash: string | null = null): Promise<void> {
    const expiresAt = Date.now() + ttlMs;
    await this.ctx.storage.put<OneTimeRecord>(RECORD_KEY, { value, expiresAt, bindingHash });
    await this.ctx.storage.setAlarm(expiresAt);
  }

  /**
   * Takes the value once. A wrong binding leaves it in place, so whoever learns a state value
   * without the browser's cookie can neither use it nor burn it.
   */
  async take(bindingHash: string | null = null): Promise<TakeResult> {
    const record = await this.ctx.storage.get<OneTimeRecord>(RECORD_KEY);
    if (!record) return { ok: false, reason: 'missing' };
    if (record.expiresAt <= Date.now()) {
      await this.ctx.storage.deleteAll();
      return { ok: false, reason: 'expired' };
    }
    if (record.bindingHash !== null && record.bindingHash !== bindingHash) return { ok: false, reason: 'binding_mismatch' };
    await this.ctx.storage.deleteAll();
    await this.ctx.storage.deleteAlarm();
    return { ok: true, value: record.value };
  }

  /** Starts a cooldown of `ttlMs` unless one is running; otherwise says how long it has left. */
  async claim(ttlMs: number): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    const record = await this.ctx.storage.get<OneTimeRecord>(RECORD_KEY);
    const now = Date.now();
    if (record && record.expiresAt > now) return { ok: false, retryAfterMs: record.expiresAt - now };
    await this.put({ kind: 'cooldown' }, ttlMs);
    return { ok: true };
  }

  /** Ends a cooldown (or drops any record) early. */
  async release(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  /** Expiry: nothing outlives its TTL in storage. */
  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}
