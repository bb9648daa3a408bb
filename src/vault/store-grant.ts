import type { Env } from '../env';
import { directoryFor, userVault } from './stubs';
import type { NewGrant, StoreGrantOutcome } from './vault-types';

/** A grant Twitch just issued, and whose it is (from /oauth2/validate). */
export type IssuedGrant = Omit<NewGrant, 'validatedAt'>;

/**
 * Stores a grant from any way in (browser login, device flow, import) in the user's vault, and
 * enrols the user in the hourly sweep when the vault kept it (it keeps a broader live grant instead
 * of a narrower new one: `scopes` then name the kept grant's). The grant was validated just now.
 */
export async function storeIssuedGrant(env: Env, grant: IssuedGrant): Promise<StoreGrantOutcome> {
  const now = Date.now();
  const outcome = await userVault(env, grant.userId).storeGrant({
    userId: grant.userId,
    login: grant.login,
    accessToken: grant.accessToken,
    refreshToken: grant.refreshToken,
    expiresAt: grant.expiresAt,
    scopes: grant.scopes,
    validatedAt: now,
  });
  if (outcome.stored) await directoryFor(env, grant.userId).registerWithLogin(grant.userId, grant.login, now);
  return outcome;
}
