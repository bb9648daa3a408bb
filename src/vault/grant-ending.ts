import type { Config } from '../config';
import { recordRevocation } from '../metrics/metrics';
import { brokerEvent, type RevocationReason } from '../notify/broker-event';
import { revokeToken, type TokenInfo } from '../twitch/identity';
import type { GrantStore, StoredGrant, UserRecord } from './grant-store';
import type { VaultEffects } from './vault-effects';

/**
 * The ways a grant ends: Twitch refuses it (revoked), it turns out to be another user's token, or
 * the user logs out or is dropped. Each forgets the tokens first and tells everyone after.
 */
export class GrantEnding {
  constructor(
    private readonly store: GrantStore,
    private readonly effects: VaultEffects,
    private readonly config: () => Config,
  ) {}

  /** Twitch has definitively refused the grant: forget the tokens, keep the user marked revoked. */
  async markRevoked(reason: string, notifiedAs: RevocationReason): Promise<void> {
    const record = this.store.current;
    if (!record) return;
    await this.store.save(
      {
        ...record,
        status: 'revoked',
        grant: null,
        lastGeneration: record.grant?.generation ?? record.lastGeneration,
        revokedAt: Date.now(),
        sessionVersion: record.sessionVersion + 1,
      },
      'revoked',
      reason,
    );
    this.store.forgetAccessToken();
    // The directory must not go on counting a copy of a revoked grant's access token as validated.
    await this.effects.forgetDirectoryCopy();
    recordRevocation(notifiedAs);
    this.effects.broadcastRevoked(notifiedAs);
    await this.effects.notify(brokerEvent('user.revoked', { user_id: record.userId, login: record.login, reason: notifiedAs }));
  }

  /**
   * Whether /oauth2/validate says the token is another user's. Only a different user id counts: a
   * 200 without one proves nothing either way, and must not end a grant.
   */
  isAnotherUsers(info: TokenInfo): boolean {
    return info.userId !== null && info.userId !== this.store.current?.userId;
  }

  /**
   * Twitch says the grant's access token belongs to another user (an import that once stored a
   * guess, a mix-up): nothing of it may be served as this user's. The grant ends as a revocation
   * does, never as a rename of this user, and the pair is revoked at Twitch as well, since it lives
   * on for that other user. False when a login or logout replaced the grant while Twitch
   * answered: the answer is about the old one, which is nobody's to end now.
   */
  async endAnotherUsersGrant(grant: StoredGrant): Promise<boolean> {
    const pair = await this.store.unsealPairOrLog(grant);
    // Checked after the await: markRevoked ends whatever grant is current then.
    const current = this.store.current;
    if (current?.status !== 'active' || current.grant?.generation !== grant.generation) return false;
    await this.markRevoked('identity_mismatch', 'identity_mismatch');
    await this.effects.revokeLater(pair);
    return true;
  }

  /**
   * The shared end of logout and drop: the grant is forgotten and every session ends before Twitch
   * is asked to revoke the tokens (best effort: the user is out here either way); what Twitch does
   * not take now is retried by the alarm. The audit entry is written with the record, and given
   * the count of failed revocations only if there are any (a second row, on that path alone).
   */
  async endGrant(record: UserRecord, status: 'logged_out' | 'deleted'): Promise<void> {
    const grant = record.grant;
    const entry = await this.store.save(
      {
        ...record,
        status,
        grant: null,
        lastGeneration: grant?.generation ?? record.lastGeneration,
        sessionVersion: record.sessionVersion + 1,
      },
      status,
    );
    this.store.forgetAccessToken();
    if (grant) await this.effects.forgetDirectoryCopy();
    let failed: string[] = [];
    if (grant) {
      const config = this.config();
      const tokens = await this.store.unsealPairOrLog(grant);
      const results = await Promise.allSettled(tokens.map((token) => revokeToken(config, token)));
      failed = tokens.filter((_token, index) => results[index]!.status === 'rejected');
      await this.effects.revokeLater(failed, { alreadyTried: true });
    }
    if (entry && failed.length > 0) await this.store.amend(entry, `${failed.length} revocation(s) at Twitch failed; retrying`);
    this.effects.broadcastRevoked(status);
    if (grant) await this.effects.notify(brokerEvent('user.revoked', { user_id: record.userId, login: record.login, reason: status }));
  }
}
