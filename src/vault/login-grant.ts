import type { Config } from '../config';
import { brokerEvent } from '../notify/broker-event';
import { validateToken } from '../twitch/identity';
import { REQUEST_BUDGET } from '../twitch/twitch-fetch';
import type { GrantEnding } from './grant-ending';
import type { GrantStore, StoredGrant } from './grant-store';
import type { ProofsOfLife } from './proofs-of-life';
import type { VaultEffects } from './vault-effects';
import type { NewGrant, StoreGrantOutcome } from './vault-types';

/** A grant validated (or refreshed) this recently counts as alive without asking Twitch again. */
const RECENTLY_PROVEN_MS = 5 * 60_000;

/** A completed login's grant taken into the vault: stored over the old one, or refused in favour of a broader live grant. */
export class LoginGrant {
  constructor(
    private readonly grants: GrantStore,
    private readonly effects: VaultEffects,
    private readonly ending: GrantEnding,
    private readonly proofs: ProofsOfLife,
    private readonly config: () => Config,
  ) {}

  /**
   * Stores the grant from a completed login and returns the user's session version, unless the
   * login would narrow the user's live grant: one lacking any stored scope may be a hostile page
   * walking the user's browser through /authorize (Twitch sends an already-authorized user straight
   * back), so the stored grant stays and the new pair is revoked instead (`stored: false`). A grant
   * that is replaced is revoked at Twitch. Revocations run in the alarm, off the response path.
   */
  async store(input: NewGrant): Promise<StoreGrantOutcome> {
    const previous = await this.grants.load();
    const live = previous?.status === 'active' ? previous.grant : null;
    // Scopes ALLOWED_SCOPES no longer permits are not worth keeping a grant for.
    const allowed = this.config().allowedScopes;
    const missingScopes = (live?.scopes ?? []).filter((scope) => !input.scopes.includes(scope) && (!allowed || allowed.has(scope)));
    if (previous && live && missingScopes.length > 0 && (await this.isAlive(live))) {
      const storedPair = await this.grants.unsealPairOrLog(live);
      // Never revoke what the kept grant itself holds, should Twitch ever hand the same token back.
      await this.effects.revokeLater([input.accessToken, input.refreshToken].filter((token) => !storedPair.includes(token)));
      await this.grants.append('login_kept_grant', `the login lacked ${missingScopes.join(' ')}`);
      return { sessionVersion: previous.sessionVersion, stored: false, scopes: [...live.scopes] };
    }
    const sealed = await this.grants.sealPair(input.userId, input.accessToken, input.refreshToken);
    // Twitch (isAlive) and the sealing were awaited: a caller's refresh, a logout or a revocation may
    // have stored a newer record meanwhile. The new grant follows that one, and replaces its pair.
    const latest = this.grants.current ?? previous;
    const replacedGrant = latest?.status === 'active' ? latest.grant : null;
    const generation = Math.max(latest?.grant?.generation ?? 0, latest?.lastGeneration ?? 0) + 1;
    await this.grants.save(
      {
        userId: input.userId,
        login: input.login,
        status: 'active',
        sessionVersion: latest?.sessionVersion ?? 1,
        revokedAt: null,
        grant: {
          ...sealed,
          expiresAt: input.expiresAt,
          scopes: input.scopes,
          obtainedAt: Date.now(),
          lastValidatedAt: input.validatedAt,
          generation,
        },
      },
      'logged_in',
    );
    this.grants.rememberAccessToken(generation, input.accessToken);
    if (replacedGrant) {
      const replaced = await this.grants.unsealPairOrLog(replacedGrant);
      await this.effects.revokeLater(replaced.filter((token) => token !== input.accessToken && token !== input.refreshToken));
    }
    await this.effects.pushCurrentToken();
    await this.effects.notify(brokerEvent('user.authorized', { user_id: input.userId, login: input.login, scopes: input.scopes }));
    if (replacedGrant) await this.effects.notifyScopeChange(replacedGrant.scopes, input.scopes);
    return { sessionVersion: this.grants.current!.sessionVersion, stored: true, scopes: input.scopes };
  }

  /**
   * Whether a stored grant still works, before a narrower login is refused in its favour: proven
   * within the last few minutes, or confirmed by /oauth2/validate now. A grant that died early (a
   * password change) must not keep out the login that replaces it; when Twitch cannot answer, the
   * stored grant is kept (the sweep will find out) rather than risk a hostile narrowing.
   */
  private async isAlive(grant: StoredGrant): Promise<boolean> {
    const now = Date.now();
    const provenAt = this.proofs.provenAt(grant);
    if (grant.expiresAt > now && now - provenAt < RECENTLY_PROVEN_MS) return true;
    try {
      const info = await validateToken(this.config(), await this.grants.accessTokenOf(grant), REQUEST_BUDGET);
      // Another user's token is no grant of this user: the login replaces it (and revokes it).
      const alive = info !== null && !this.ending.isAnotherUsers(info);
      if (alive) this.proofs.confirmedAlive = { generation: grant.generation, at: now };
      return alive;
    } catch {
      return true;
    }
  }
}
