import type { Config } from '../config';
import { validateToken } from '../twitch/identity';
import { describeFailure } from '../twitch/twitch-error';
import { BACKGROUND_BUDGET } from '../twitch/twitch-fetch';
import type { GrantEnding } from './grant-ending';
import { copyOf, type GrantStore } from './grant-store';
import type { ProofsOfLife } from './proofs-of-life';
import { USER_REFRESH_MARGIN_MS, VALIDATION_SKIP_WINDOW_MS } from './timing';
import type { TokenLifecycle } from './token-lifecycle';
import type { VaultEffects } from './vault-effects';
import type { UserValidation, ValidateOptions } from './vault-types';

/** The hourly validation Twitch requires, as the sweep's directory asks a vault for it. */
export class SweepValidation {
  constructor(
    private readonly store: GrantStore,
    private readonly lifecycle: TokenLifecycle,
    private readonly ending: GrantEnding,
    private readonly effects: VaultEffects,
    private readonly proofs: ProofsOfLife,
    private readonly config: () => Config,
  ) {}

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
    const refreshing = this.lifecycle.refreshing;
    if (refreshing) await refreshing;
    const loaded = await this.store.load();
    if (!loaded?.grant || loaded.status !== 'active') return { outcome: 'inactive', lastValidatedAt: null };
    // After a key rotation every visit re-seals the grant, refresh token included, whatever it does
    // next: the old key may be retired once a sweep has passed (docs/security.md: key rotation).
    const resealed = await this.store.resealedIfOldKey(loaded.grant);
    // Read after the await: a refresh, a login or a logout may have replaced the record meanwhile.
    const record = this.store.current;
    if (!record?.grant || record.status !== 'active') return { outcome: 'inactive', lastValidatedAt: null };
    if (Object.keys(resealed).length > 0 && record.grant.generation === loaded.grant.generation) {
      await this.store.save({ ...record, grant: { ...record.grant, ...resealed } });
    }
    const grant = this.store.current!.grant!;
    const now = Date.now();
    const lastProof = this.proofs.lastValidated(grant);
    // An operator's forced sweep, or a copy Twitch called another user's token: ask Twitch now.
    const checkNow = options.force === true || options.recheck === true;
    if (!checkNow && grant.expiresAt <= now) return { outcome: 'idle', lastValidatedAt: lastProof, expiredAt: grant.expiresAt };
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
        info = await validateToken(this.config(), await this.store.accessTokenOf(grant), BACKGROUND_BUDGET);
      } catch (error) {
        await this.store.append('validate_failed', describeFailure(error));
        return { outcome: 'failed', lastValidatedAt: lastProof };
      }
    }
    if (info !== null && this.ending.isAnotherUsers(info)) {
      if (await this.ending.endAnotherUsersGrant(grant)) return { outcome: 'revoked', lastValidatedAt: null };
      // Replaced while Twitch answered: the new grant is visited again soon, as after a failure.
      return { outcome: 'failed', lastValidatedAt: lastProof };
    }
    if (info === null) {
      await this.lifecycle.neverServeAgain(grant);
      const result = await this.lifecycle.refreshOnce(BACKGROUND_BUDGET);
      const current = this.store.current?.grant;
      const lastValidatedAt = current?.lastValidatedAt ?? null;
      if (result.kind === 'refreshed') return { outcome: 'refreshed', lastValidatedAt, ...(current ? { copy: copyOf(current) } : {}) };
      return { outcome: result.kind === 'revoked' ? 'revoked' : 'failed', lastValidatedAt };
    }

    // An operator's forced sweep (rare, and asked for) is worth an entry in the user's own trail,
    // written with the record when the validation changed it.
    let entryOwed = options.force === true;
    if (this.store.current?.grant?.generation === grant.generation) {
      this.proofs.validatedInMemory = { generation: grant.generation, at: now };
    }
    const resealedNow = await this.store.resealedIfOldKey(grant);
    // Read after the await, as above: only the grant Twitch just vouched for is written.
    const current = this.store.current;
    if (current?.grant?.generation === grant.generation) {
      const login = info.login ?? current.login;
      const scopes = info.scopes.length > 0 ? info.scopes : current.grant.scopes;
      const expiresAt = info.expiresAt ?? current.grant.expiresAt;
      // Twitch's expires_in counts down in whole seconds: a drift under a minute is not news.
      const changed =
        Object.keys(resealedNow).length > 0 ||
        login !== current.login ||
        scopes.join(' ') !== current.grant.scopes.join(' ') ||
        Math.abs(expiresAt - current.grant.expiresAt) > 60_000;
      if (changed) {
        const grantNow = { ...current.grant, ...resealedNow, lastValidatedAt: now, expiresAt, scopes };
        await this.store.save({ ...current, login, grant: grantNow }, entryOwed ? 'validated' : undefined);
        entryOwed = false;
        await this.effects.notifyScopeChange(current.grant.scopes, scopes);
      }
    }
    if (entryOwed) await this.store.append('validated');
    const latest = this.store.current?.grant;
    return { outcome: 'validated', lastValidatedAt: now, ...(latest ? { copy: copyOf(latest) } : {}), ...(info.login ? { login: info.login } : {}) };
  }
}
