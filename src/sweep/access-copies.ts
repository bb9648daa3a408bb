import type { Config } from '../config';
import { logEvent } from '../log';
import { USER_REFRESH_MARGIN_MS } from '../vault/timing';
import type { AccessCopy, UserValidation, ValidateOptions } from '../vault/vault-types';
import { checkCopies, type CopyCheck, type CopyToCheck } from './copy-check';
import { COPIES_PER_LANE, LANE_POOL, OWN_CHECKS_PER_BATCH, splitChecks } from './schedule';

/**
 * How the sweep's directory visits a round of users without waking their vaults. The directory
 * holds a sealed copy of each user's current access token (never the refresh token), handed over
 * by the vault on a visit; while the copy has more than the refresh margin left, the directory
 * validates it with Twitch itself: 200 is the hourly proof (nothing written), anything else wakes
 * the vault, which owns refresh, single flight, revocation and generation checks exactly as before.
 * Past the refresh margin a caller may have refreshed the token, so the vault is asked again: it
 * hands over its current copy (no call to Twitch of its own) unless that one nears expiry too.
 * Copies beyond the directory's own calls go to lanes (SweepLane objects, src/sweep/sweep-lane.ts),
 * COPIES_PER_LANE each, so a round lasts about two Twitch round trips however many users it holds.
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

/** What the vault is asked to do about a copy Twitch did not call alive. */
function vaultOptionsFor(check: CopyCheck, copy: AccessCopy): ValidateOptions {
  if (check.outcome === 'dead') return { deadGeneration: copy.generation };
  if (check.outcome === 'another_user') return { recheck: true };
  return {};
}

/** A user to visit: forced (an operator's sweep: always the vault) or not, and the copy held. */
export interface UserToVisit {
  userId: string;
  force: boolean;
  copy: AccessCopy | null;
}

/** How a batch reaches lane `index` (1, 2, …): a SweepLane object's RPC in production. */
export interface LanePort {
  check(index: number, copies: CopyToCheck[]): Promise<CopyCheck[]>;
}

/** Visits rounds of users for one batch; keeps count of the directory's own calls to Twitch. */
export class CopyValidator {
  private ownChecksLeft = OWN_CHECKS_PER_BATCH;
  private lanesCalled = 0;

  constructor(
    private readonly config: Config,
    /** Wakes a user's vault with these options (the directory's RPC; a failure comes back as `failed`). */
    private readonly wakeVault: (userId: string, options: ValidateOptions) => Promise<UserValidation>,
    private readonly lanes: LanePort,
  ) {}

  /**
   * The outcome for each user, in order, with the copy to keep when it is new. Two flows at once:
   * copies held are checked; vaults without a usable copy hand theirs over and those copies are
   * checked as soon as they arrive. In both, a copy Twitch did not call alive goes to its vault.
   */
  async visit(users: readonly UserToVisit[]): Promise<UserValidation[]> {
    const now = Date.now();
    const results = new Array<UserValidation>(users.length);
    const held: { index: number; copy: AccessCopy }[] = [];
    const toWake: { index: number; options: ValidateOptions }[] = [];
    users.forEach((user, index) => {
      if (!user.force && user.copy && isUsable(user.copy, now)) held.push({ index, copy: user.copy });
      else toWake.push({ index, options: user.force ? { force: true } : { handover: true } });
    });

    /** Checks copies; records the live ones and returns the others for their vaults. */
    const checkAndRecord = async (copies: { index: number; copy: AccessCopy }[]) => {
      const checked = await this.check(copies.map(({ index, copy }) => ({ userId: users[index]!.userId, sealedAccessToken: copy.sealedAccessToken })));
      const toVault: { index: number; options: ValidateOptions }[] = [];
      copies.forEach(({ index, copy }, k) => {
        const check = checked[k]!;
        if (check.outcome === 'alive') {
          // The vault refreshes by the expiry Twitch reports: an earlier one ends the copy's use earlier too.
          const expiresAt = typeof check.expiresAt === 'number' ? Math.min(copy.expiresAt, check.expiresAt) : copy.expiresAt;
          const kept = { ...copy, expiresAt };
          results[index] = { outcome: 'validated', lastValidatedAt: Date.now(), copy: kept, ...(check.login ? { login: check.login } : {}) };
        } else {
          // 401: the vault refreshes if the copy is of its current token, or validates its newer
          // one (never revoked on a stale copy's word); another user's token: the vault validates
          // now, however recently it last did, and ends the grant if Twitch says so again; no clear
          // answer: the vault retries.
          toVault.push({ index, options: vaultOptionsFor(check, copy) });
        }
      });
      return toVault;
    };
    /** Wakes vaults; records their answers and returns the copies they handed over. */
    const wakeAndRecord = async (visits: { index: number; options: ValidateOptions }[]) => {
      const answers = await Promise.all(visits.map(({ index, options }) => this.wakeVault(users[index]!.userId, options)));
      const handedOver: { index: number; copy: AccessCopy }[] = [];
      visits.forEach(({ index }, k) => {
        const answer = answers[k]!;
        if (answer.outcome === 'handed_over' && answer.copy) handedOver.push({ index, copy: answer.copy });
        else results[index] = answer;
      });
      return handedOver;
    };

    await Promise.all([
      (async () => wakeAndRecord(await checkAndRecord(held)))(),
      (async () => wakeAndRecord(await checkAndRecord(await wakeAndRecord(toWake))))(),
    ]);
    return results;
  }

  /** Checks copies: the first ones here (within the batch's allowance), the rest on lanes at once. */
  private async check(copies: CopyToCheck[]): Promise<CopyCheck[]> {
    if (copies.length === 0) return [];
    const { own, lanes } = splitChecks(copies.length, this.ownChecksLeft);
    this.ownChecksLeft -= own;
    const chunks = lanes.map((_size, k) => copies.slice(own + k * COPIES_PER_LANE, own + (k + 1) * COPIES_PER_LANE));
    const [mine, ...theirs] = await Promise.all([
      checkCopies(this.config, copies.slice(0, own)),
      // Each chunk its own lane, so no two chunks share a lane's six connections.
      ...chunks.map((chunk) => this.onLane((this.lanesCalled++ % LANE_POOL) + 1, chunk)),
    ]);
    return [...mine!, ...theirs.flat()];
  }

  /** One chunk on lane `index`; a lane that cannot be reached leaves its users to their vaults. */
  private async onLane(index: number, chunk: CopyToCheck[]): Promise<CopyCheck[]> {
    try {
      return await this.lanes.check(index, chunk);
    } catch (error) {
      logEvent('sweep.lane_unreachable', { lane: index, reason: error instanceof Error ? error.name : 'unknown' });
      return chunk.map((copy) => ({ userId: copy.userId, outcome: 'unknown' }));
    }
  }
}
