import { REQUEST_BUDGET } from '../twitch/twitch-fetch';
import type { GrantStore } from './grant-store';
import type { ProofsOfLife } from './proofs-of-life';
import type { TokenLifecycle } from './token-lifecycle';
import type { VaultEffects } from './vault-effects';
import type { ForcedRefreshOutcome, UserSummary } from './vault-types';

/** The admin console's operations on one vault (src/admin/): a summary without secrets, a forced refresh. */
export class VaultConsole {
  constructor(
    private readonly store: GrantStore,
    private readonly lifecycle: TokenLifecycle,
    private readonly effects: VaultEffects,
    private readonly proofs: ProofsOfLife,
  ) {}

  /** What an operator may see of this user, or null for a user this broker never saw. No token. */
  async summary(): Promise<UserSummary | null> {
    const record = await this.store.load();
    if (!record) return null;
    const grant = record.grant;
    const lastRefresh = [...this.store.events].reverse().find((entry) => entry.event === 'refreshed' || entry.event === 'refresh_failed');
    return {
      userId: record.userId,
      login: record.login,
      status: record.status,
      scopes: grant?.scopes ?? [],
      expiresAt: grant?.expiresAt ?? null,
      obtainedAt: grant?.obtainedAt ?? null,
      lastValidatedAt: grant ? this.proofs.provenAt(grant) : null,
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
    await this.store.append('refresh_forced', `by API key ${operator}`);
    const result = await this.lifecycle.refreshOnce(REQUEST_BUDGET);
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
}
