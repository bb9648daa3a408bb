import type { Config } from '../config';
import { isSealedWithOldKey, seal, unseal } from '../crypto/seal';
import { logEvent } from '../log';
import { describeFailure } from '../twitch/twitch-error';
import { type AuditEvent, type AuditEventName, AuditTrail } from './audit-trail';
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

/** The user's state as the vault keeps it (stored under `user` with the audit trail, see StoredUser). */
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

/** What the storage key `user` holds: the record and its audit trail, one value, so a change and its entry are one row. */
type StoredUser = UserRecord & { audit?: AuditEvent[] };

const RECORD_KEY = 'user';
/** Where deployments before the one-value layout kept the trail: read once, deleted by the first write. */
const SEPARATE_TRAIL_KEY = 'audit';

/** The copy of a grant's access token the sweep's directory validates: still sealed, never the refresh token. */
export const copyOf = (grant: StoredGrant): AccessCopy => ({
  sealedAccessToken: grant.sealedAccessToken,
  generation: grant.generation,
  expiresAt: grant.expiresAt,
});

/**
 * One user's record and audit trail as the vault stores them (one value under storage key `user`,
 * cached in memory), and the sealing of its tokens: every token at rest is sealed with
 * TOKEN_ENCRYPTION_KEY under a purpose naming the user and the token's kind, so a value copied to
 * another user or kind does not unseal. Every write is one `put` of that one value: rows written
 * are billed, and a refresh, a login or a logout changes the record and adds its entry together.
 */
export class GrantStore {
  private record: UserRecord | null | undefined;
  private readonly trail = new AuditTrail();
  /** The trail was loaded from its own key (SEPARATE_TRAIL_KEY), which the next write deletes. */
  private trailKeyToDelete = false;
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

  /** The audit trail, oldest first (empty before the first load and for a user never seen). */
  get events(): AuditEvent[] {
    return this.trail.events;
  }

  /** The record and its trail, read from storage once per instance. */
  async load(): Promise<UserRecord | null> {
    if (this.record !== undefined) return this.record;
    // Both keys in one read: a vault from before the trail moved into the record holds `audit`
    // apart, and so does one that a rolled-back deployment wrote to after the move.
    const both = await this.storage.get<StoredUser | AuditEvent[]>([RECORD_KEY, SEPARATE_TRAIL_KEY]);
    const stored = both.get(RECORD_KEY) as StoredUser | undefined;
    const separateTrail = both.get(SEPARATE_TRAIL_KEY) as AuditEvent[] | undefined;
    // Another call may have loaded (and written) while these reads were awaited: its copy is newer.
    if (this.record !== undefined) return this.record;
    if (!stored) {
      this.record = null;
      return null;
    }
    const { audit, ...record } = stored;
    this.trail.restore(audit ?? [], separateTrail ?? []);
    this.trailKeyToDelete = separateTrail !== undefined;
    this.record = record;
    return record;
  }

  /** Replaces the record, in memory at once and in storage, with `event` added to the trail: one row. Returns the entry. */
  async save(record: UserRecord, event?: AuditEventName, detail?: string): Promise<AuditEvent | undefined> {
    this.record = record;
    const entry = event === undefined ? undefined : this.trail.add(record.userId, event, detail);
    await this.write(record);
    return entry;
  }

  /** Adds an event to the trail of the record as it is: one row. */
  async append(event: AuditEventName, detail?: string): Promise<void> {
    const record = this.record;
    if (!record) throw new Error('no record to add an audit event to');
    this.trail.add(record.userId, event, detail);
    await this.write(record);
  }

  /** Gives an entry `save` returned its reason, once known (see AuditTrail.amend): one row, if the entry is still kept. */
  async amend(entry: AuditEvent, detail: string): Promise<void> {
    const record = this.record;
    if (record && this.trail.amend(record.userId, entry, detail)) await this.write(record);
  }

  /** One put of the record and its trail; the first write after a load from the separate layout also deletes the old key, in the same batch. */
  private async write(record: UserRecord): Promise<void> {
    const stored: StoredUser = { ...record, audit: this.trail.events };
    if (!this.trailKeyToDelete) return this.storage.put(RECORD_KEY, stored);
    this.trailKeyToDelete = false;
    await Promise.all([this.storage.put(RECORD_KEY, stored), this.storage.delete(SEPARATE_TRAIL_KEY)]);
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
