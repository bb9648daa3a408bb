import type { Config } from '../config';
import { isSealedWithOldKey, seal, unseal } from '../crypto/seal';
import { logEvent } from '../log';
import { describeFailure } from '../twitch/twitch-error';
import type { AccessCopy, UserTokenResult } from './vault-types';

/** The grant as stored: both tokens sealed, times absolute. */
export interface StoredGrant {
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
export interface UserRecord {
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

const RECORD_KEY = 'user';

/** The copy of a grant's access token the sweep's directory validates: still sealed, never the refresh token. */
export const copyOf = (grant: StoredGrant): AccessCopy => ({
  sealedAccessToken: grant.sealedAccessToken,
  generation: grant.generation,
  expiresAt: grant.expiresAt,
});

/**
 * One user's record as the vault stores it (storage key `user`, cached in memory) and the sealing
 * of its tokens: every token at rest is sealed with TOKEN_ENCRYPTION_KEY under a purpose naming
 * the user and the token's kind, so a value copied to another user or kind does not unseal.
 */
export class GrantStore {
  private record: UserRecord | null | undefined;
  /** The unsealed access token of the current generation, so hot reads skip the AES work. */
  private plainAccessToken: { generation: number; token: string } | null = null;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly config: () => Config,
  ) {}

  /** The record as last loaded or saved; null before the first load and for a user never seen. */
  get current(): UserRecord | null {
    return this.record ?? null;
  }

  /** The record, read from storage once per instance. */
  async load(): Promise<UserRecord | null> {
    if (this.record === undefined) {
      this.record = (await this.storage.get<UserRecord>(RECORD_KEY)) ?? null;
    }
    return this.record;
  }

  /** Replaces the record, in memory at once and in storage. */
  async save(record: UserRecord): Promise<void> {
    this.record = record;
    await this.storage.put(RECORD_KEY, record);
  }

  /** The sealing purpose of this user's tokens of one kind. */
  purpose(kind: 'access' | 'refresh' | 'revoke'): string {
    return `user:${this.record?.userId ?? ''}:${kind}`;
  }

  /** Seals a new pair for `userId` with the newest key. */
  async sealPair(userId: string, accessToken: string, refreshToken: string): Promise<Pick<StoredGrant, 'sealedAccessToken' | 'sealedRefreshToken'>> {
    const keys = this.config().tokenKeys;
    const [sealedAccessToken, sealedRefreshToken] = await Promise.all([
      seal(accessToken, `user:${userId}:access`, keys),
      seal(refreshToken, `user:${userId}:refresh`, keys),
    ]);
    return { sealedAccessToken, sealedRefreshToken };
  }

  /** Both tokens of a grant, unsealed: [access, refresh]. */
  unsealPair(grant: StoredGrant): Promise<[string, string]> {
    const keys = this.config().tokenKeys;
    return Promise.all([unseal(grant.sealedAccessToken, this.purpose('access'), keys), unseal(grant.sealedRefreshToken, this.purpose('refresh'), keys)]);
  }

  /** One sealed token of this user, unsealed, bypassing the access-token cache. */
  unsealToken(sealed: string, kind: 'access' | 'refresh'): Promise<string> {
    return unseal(sealed, this.purpose(kind), this.config().tokenKeys);
  }

  /** A grant's pair, or none when no configured key unseals it (a key-rotation mistake): then there is nothing to revoke. */
  unsealPairOrLog(grant: StoredGrant): Promise<string[]> {
    return this.unsealPair(grant).catch((error: unknown) => {
      logEvent('user.revoke_skipped', { userId: this.record?.userId ?? '', reason: describeFailure(error) });
      return [];
    });
  }

  /** A grant's access token, unsealed once per generation. */
  async accessTokenOf(grant: StoredGrant): Promise<string> {
    if (this.plainAccessToken?.generation !== grant.generation) {
      const token = await this.unsealToken(grant.sealedAccessToken, 'access');
      this.plainAccessToken = { generation: grant.generation, token };
    }
    return this.plainAccessToken.token;
  }

  /** Remembers the plain access token of a generation just written (a refresh), so serving it costs no unseal. */
  rememberAccessToken(generation: number, token: string): void {
    this.plainAccessToken = { generation, token };
  }

  /** The grant is gone: its plain access token must not linger in memory. */
  forgetAccessToken(): void {
    this.plainAccessToken = null;
  }

  /** Values sealed with a retired key are re-sealed with the newest one on their next write. */
  async resealedIfOldKey(grant: StoredGrant): Promise<Partial<StoredGrant>> {
    const keys = this.config().tokenKeys;
    if (!(await isSealedWithOldKey(grant.sealedRefreshToken, keys)) && !(await isSealedWithOldKey(grant.sealedAccessToken, keys))) {
      return {};
    }
    const [accessToken, refreshToken] = await this.unsealPair(grant);
    return this.sealPair(this.record!.userId, accessToken, refreshToken);
  }

  /** The current grant's access token as callers get it, or why there is none. */
  async currentToken(): Promise<UserTokenResult> {
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
}
