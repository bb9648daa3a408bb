import type { Config } from '../config';
import { isSealedWithOldKey, unseal } from '../crypto/seal';
import { validateToken } from '../twitch/identity';
import type { CallBudget } from '../twitch/twitch-fetch';
import { CONNECTIONS_PER_INVOCATION } from './schedule';

/**
 * The sweep validating users' access tokens itself, from the sealed copies their vaults handed it,
 * instead of waking one vault per user-hour. Only Twitch's clear answers count: 200 for this user
 * (alive), 200 for another user (`another_user`) and 401 (dead); the last two are for the vault to
 * act on: the directory never refreshes or revokes. Anything else is `unknown` and goes to the
 * vault, which retries within its own budget and invocation.
 */

/** A user's copy to validate. */
export interface CopyToCheck {
  userId: string;
  sealedAccessToken: string;
}

/**
 * What Twitch said of one copy; `expiresAt`: when Twitch says the token expires (null: it never
 * does).
 */
export interface CopyCheck {
  userId: string;
  outcome: 'alive' | 'dead' | 'another_user' | 'unknown';
  expiresAt?: number | null;
  /** The login Twitch reported for the token (users may rename). */
  login?: string;
}

/**
 * One attempt, never repeated here: each copy costs exactly one subrequest (the Free plan allows
 * 50 to the internet per invocation), and a failure is the vault's to retry.
 */
const COPY_CHECK_BUDGET: CallBudget = { deadlineMs: 5_000, attemptTimeoutMs: 5_000, retryAmbiguous: false, maxAttempts: 1 };

/** Validates each copy with Twitch, at most CONNECTIONS_PER_INVOCATION at once, in the order given. */
export async function checkCopies(config: Config, copies: readonly CopyToCheck[]): Promise<CopyCheck[]> {
  const results: CopyCheck[] = new Array<CopyCheck>(copies.length);
  let next = 0;
  const worker = async () => {
    while (next < copies.length) {
      const index = next++;
      results[index] = await checkCopy(config, copies[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECTIONS_PER_INVOCATION, copies.length) }, worker));
  return results;
}

async function checkCopy(config: Config, copy: CopyToCheck): Promise<CopyCheck> {
  const purpose = `user:${copy.userId}:access`;
  try {
    // After a key rotation the vault must validate once itself: only it can re-seal the refresh
    // token, and the old key may be retired once every grant is re-sealed (docs/security.md: key rotation).
    if (await isSealedWithOldKey(copy.sealedAccessToken, config.tokenKeys)) return { userId: copy.userId, outcome: 'unknown' };
    const accessToken = await unseal(copy.sealedAccessToken, purpose, config.tokenKeys);
    const info = await validateToken(config, accessToken, COPY_CHECK_BUDGET);
    if (info === null) return { userId: copy.userId, outcome: 'dead' };
    // The copy unsealed under this user's purpose, so it is this vault's token: one of another user
    // is a grant that must end (never a rename), once the vault has seen the same answer itself.
    if (info.userId !== null && info.userId !== copy.userId) return { userId: copy.userId, outcome: 'another_user' };
    return { userId: copy.userId, outcome: 'alive', expiresAt: info.expiresAt, ...(info.login ? { login: info.login } : {}) };
  } catch {
    // Twitch could not answer, or no configured key unseals the copy: the vault finds out which.
    return { userId: copy.userId, outcome: 'unknown' };
  }
}
