import { getConfig } from '../config';
import type { Env } from '../env';
import { logEvent } from '../log';
import { sweepLane } from '../vault/stubs';
import { USER_REFRESH_MARGIN_MS } from '../vault/timing';
import type { AccessCopy, UserValidation, ValidateOptions } from '../vault/vault-types';
import { checkCopies, type CopyCheck, type CopyToCheck } from './copy-check';
import { COPIES_PER_LANE, OWN_CHECKS_PER_BATCH, splitChecks } from './schedule';

/**
 * How the sweep's directory visits a round of users without waking their vaults. The directory
 * holds a sealed copy of each user's current access token (never the refresh token), handed over
 * by the vault on a visit; while the copy has more than the refresh margin left, the directory
 * validates it with Twitch itself: 200 is the hourly proof (nothing written), anything else wakes
 * the vault, which owns refresh, single flight, revocation and generation checks exactly as before.
 * Past the refresh margin a caller may have refreshed the token, so the vault is asked again: it
 * hands over its current copy (no call to Twitch of its own) unless that one nears expiry too.
 */

/** The copy columns of a `users` row. */
export type AccessCopyRow = { sealed_access: string | null; copy_generation: number | null; copy_expires_at: number | null };

/** The copy a row holds, or null. */
export function copyFromRow(row: AccessCopyRow): AccessCopy | null {
  if (row.sealed_access === null || row.copy_generation === null || row.copy_expires_at === null) return null;
  return { sealedAccessToken: row.sealed_access, generation: row.copy_generation, expiresAt: row.copy_expires_at };
}

/**
 * Whether the directory may validate `copy` instead of the vault: the vault refreshes a token with
 * under USER_REFRESH_MARGIN_MS left on any caller's request, so before that moment the copy is the
 * token in use, and after it the copy may be one a refresh has replaced.
 */
export const isUsable = (copy: AccessCopy, now: number): boolean => now < copy.expiresAt - USER_REFRESH_MARGIN_MS;

/** A user to visit: forced (an operator's sweep: always the vault) or not, and the copy held. */
export interface UserToVisit {
  userId: string;
  force: boolean;
  copy: AccessCopy | null;
}

/** Visits rounds of users for one batch; keeps count of the directory's own calls to Twitch. */
export class CopyValidator {
  private ownChecksLeft = OWN_CHECKS_PER_BATCH;

  constructor(
    private readonly env: Env,
    /** Wakes a user's vault with these options (the directory's RPC; a failure comes back as `failed`). */
    private readonly wakeVault: (userId: string, options: ValidateOptions) => Promise<UserValidation>,
  ) {}

  /**
   * The outcome for each user, in order, with the copy to keep when it is new. At most three steps:
   * copies checked and vaults woken (asked for a handover) at once; then the handed-over copies
   * checked and the vaults of copies Twitch did not call alive woken; then the vaults of handed-over
   * copies Twitch did not call alive.
   */
  async visit(users: readonly UserToVisit[]): Promise<UserValidation[]> {
    const now = Date.now();
    const results = new Array<UserValidation>(users.length);
    const copies = users.map((user) => user.copy);
    let toCheck: number[] = [];
    let toWake: { index: number; options: ValidateOptions }[] = [];
    users.forEach((user, index) => {
      if (!user.force && user.copy && isUsable(user.copy, now)) toCheck.push(index);
      else toWake.push({ index, options: user.force ? { force: true } : { handover: true } });
    });
    while (toCheck.length > 0 || toWake.length > 0) {
      const [checked, woken] = await Promise.all([
        this.check(toCheck.map((index) => ({ userId: users[index]!.userId, sealedAccessToken: copies[index]!.sealedAccessToken }))),
        Promise.all(toWake.map(({ index, options }) => this.wakeVault(users[index]!.userId, options))),
      ]);
      const nextCheck: number[] = [];
      const nextWake: { index: number; options: ValidateOptions }[] = [];
      toCheck.forEach((index, k) => {
        const check = checked[k]!;
        const copy = copies[index]!;
        if (check.outcome === 'alive') {
          results[index] = { outcome: 'validated', lastValidatedAt: Date.now(), copy: check.resealed ? { ...copy, sealedAccessToken: check.resealed } : copy };
        } else {
          // 401: the vault refreshes if the copy is of its current token, or validates its newer
          // one (never revoked on a stale copy's word); no clear answer: the vault retries.
          nextWake.push({ index, options: check.outcome === 'dead' ? { deadGeneration: copy.generation } : {} });
        }
      });
      toWake.forEach(({ index }, k) => {
        const result = woken[k]!;
        if (result.outcome === 'handed_over' && result.copy) {
          copies[index] = result.copy;
          nextCheck.push(index);
        } else {
          results[index] = result;
        }
      });
      toCheck = nextCheck;
      toWake = nextWake;
    }
    return results;
  }

  /** Checks copies: the first ones here (within the batch's allowance), the rest on lanes at once. */
  private async check(copies: CopyToCheck[]): Promise<CopyCheck[]> {
    if (copies.length === 0) return [];
    const { own, lanes } = splitChecks(copies.length, this.ownChecksLeft);
    this.ownChecksLeft -= own;
    const chunks = lanes.map((_size, k) => copies.slice(own + k * COPIES_PER_LANE, own + (k + 1) * COPIES_PER_LANE));
    const [mine, ...theirs] = await Promise.all([
      checkCopies(getConfig(this.env), copies.slice(0, own)),
      ...chunks.map((chunk, k) => this.onLane(k + 1, chunk)),
    ]);
    return [...mine!, ...theirs.flat()];
  }

  /** One chunk on lane `index`; a lane that cannot be reached leaves its users to their vaults. */
  private async onLane(index: number, chunk: CopyToCheck[]): Promise<CopyCheck[]> {
    try {
      return await sweepLane(this.env, index).check(chunk);
    } catch (error) {
      logEvent('sweep.lane_unreachable', { lane: index, reason: error instanceof Error ? error.name : 'unknown' });
      return chunk.map((copy) => ({ userId: copy.userId, outcome: 'unknown' }));
    }
  }
}
