import type { Env } from '../env';
import type { DirectoryEntry, DirectoryQuery } from '../sweep/directory-listing';
import { userDirectory, userVault } from '../vault/stubs';
import type { ForcedRefreshOutcome, UserSummary } from '../vault/vault-types';

/**
 * The operator's user operations, shared by the admin console's pages and the JSON admin API:
 * one piece of code per operation. The directory pages and searches; each user's vault adds what
 * only it knows, for the users on the page only.
 */

/** One user as an operator sees them: the directory's entry and the vault's summary. Never a token. */
export interface AdminUser {
  userId: string;
  login: string | null;
  /** The vault's record; `unknown` when the vault could not be read just now. */
  status: UserSummary['status'] | 'unknown';
  sweep: DirectoryEntry['sweep'] | 'not_indexed';
  scopes: string[];
  expiresAt: number | null;
  obtainedAt: number | null;
  /** The newer of the vault's proof and the sweep's last passing of this user (see DirectoryEntry.sweptAt). */
  lastValidatedAt: number | null;
  lastRefresh: UserSummary['lastRefresh'];
  revokedAt: number | null;
}

/** Users on one page, and where the next page starts (null: none). */
export interface AdminUserPage {
  users: AdminUser[];
  next: string | null;
}

/** One page of users, each with their vault's summary (fetched in parallel, for this page only). */
export async function listAdminUsers(env: Env, query: DirectoryQuery): Promise<AdminUserPage> {
  const page = await userDirectory(env).listUsers(query);
  const summaries = await Promise.allSettled(page.entries.map((entry) => userVault(env, entry.userId).summary()));
  return {
    users: page.entries.map((entry, index) => {
      const summary = summaries[index]!;
      return adminUser(entry, summary.status === 'fulfilled' ? summary.value : undefined);
    }),
    next: page.next,
  };
}

/** One user, or null for a user this broker never saw. */
export async function getAdminUser(env: Env, userId: string): Promise<AdminUser | null> {
  const [summary, page] = await Promise.all([
    userVault(env, userId).summary(),
    userDirectory(env).listUsers({ search: { loginPrefix: '', userId }, after: null, limit: 1 }),
  ]);
  const entry = page.entries[0] ?? null;
  if (!summary && !entry) return null;
  return adminUser(entry, summary);
}

/** An operator's forced refresh of one user's token (see UserVault.forceRefresh). */
export function forceRefreshUser(env: Env, userId: string, operator: string): Promise<ForcedRefreshOutcome> {
  return userVault(env, userId).forceRefresh(operator);
}

/** Drops a user: revoked at Twitch, grant forgotten, sessions ended; the audit trail is kept. */
export function dropUser(env: Env, userId: string): Promise<'deleted' | 'not_found'> {
  return userVault(env, userId).drop();
}

/** `undefined` summary: the vault did not answer; null: it holds no record. */
function adminUser(entry: DirectoryEntry | null, summary: UserSummary | null | undefined): AdminUser {
  const proofs = [summary?.lastValidatedAt ?? null, summary?.status === 'active' ? (entry?.sweptAt ?? null) : null].filter((at): at is number => at !== null);
  return {
    userId: entry?.userId ?? summary!.userId,
    login: summary?.login ?? entry?.login ?? null,
    status: summary?.status ?? 'unknown',
    sweep: entry?.sweep ?? 'not_indexed',
    scopes: summary?.scopes ?? [],
    expiresAt: summary?.expiresAt ?? null,
    obtainedAt: summary?.obtainedAt ?? null,
    lastValidatedAt: proofs.length > 0 ? Math.max(...proofs) : null,
    lastRefresh: summary?.lastRefresh ?? null,
    revokedAt: summary?.revokedAt ?? null,
  };
}

/** A user as the JSON admin API sends it: times in ISO 8601, never a token. */
export function adminUserJson(user: AdminUser) {
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
  return {
    user_id: user.userId,
    login: user.login,
    status: user.status,
    sweep: user.sweep,
    scopes: user.scopes,
    expires_at: iso(user.expiresAt),
    obtained_at: iso(user.obtainedAt),
    last_validated_at: iso(user.lastValidatedAt),
    last_refresh: user.lastRefresh ? { at: iso(user.lastRefresh.at)!, outcome: user.lastRefresh.outcome } : null,
    revoked_at: iso(user.revokedAt),
  };
}

/** The JSON admin API's user body. */
export type AdminUserBody = ReturnType<typeof adminUserJson>;
