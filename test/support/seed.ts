import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm } from 'cloudflare:test';
import { expect } from 'vitest';
import { userDirectory, userVault } from '../../src/vault/stubs';
import type { NewGrant } from '../../src/vault/vault-types';
import { TEST_BINDINGS, TWITCH } from '../test-bindings';
import { twitch } from './twitch';

export const HOUR = 3600_000;

/** The one user directory. */
export const directory = () => userDirectory(env);
/** A user's vault. */
export const vault = (userId: string) => userVault(env, userId);

/** When a seeded grant's access token expires (default: when Twitch says) and when it was last validated. */
interface GrantTimes {
  validatedAt: number;
  expiresAt?: number;
  /** Whom Twitch issued the grant to (default: the user): a grant of another user, as an import that guessed could store. */
  ownerId?: string;
  login?: string;
}

/** A grant the stand-in issues, as a login hands it to `userId`'s vault; also returns Twitch's pair. */
export async function standinGrant(userId: string, times: GrantTimes) {
  const grant = await twitch.grant(times.ownerId ?? userId);
  const newGrant: NewGrant = {
    userId,
    login: times.login ?? `user_${userId}`,
    accessToken: grant.access_token,
    refreshToken: grant.refresh_token,
    expiresAt: times.expiresAt ?? Date.now() + grant.expires_in * 1000,
    scopes: grant.scope,
    validatedAt: times.validatedAt,
  };
  return { grant, newGrant };
}

/** Stores a grant the stand-in issues in `userId`'s vault (see `standinGrant`); returns Twitch's pair. */
export async function storeStandinGrant(userId: string, times: GrantTimes) {
  const { grant, newGrant } = await standinGrant(userId, times);
  await vault(userId).storeGrant(newGrant);
  return grant;
}

/**
 * Seeds users straight into their vaults and the directory, as past logins would have left them:
 * a grant issued by the stand-in, last validated `ageMs` ago.
 */
export async function seedUsers(count: number, firstId: number, ageMs: number): Promise<string[]> {
  await twitch.addUsers(count, firstId);
  const ids = Array.from({ length: count }, (_, i) => String(firstId + i));
  const validatedAt = Date.now() - ageMs;
  for (let i = 0; i < ids.length; i += 100) {
    await Promise.all(ids.slice(i, i + 100).map((userId) => storeStandinGrant(userId, { validatedAt })));
  }
  await directory().registerMany(ids, validatedAt);
  return ids;
}

/**
 * Seeds `userId`'s vault (and the directory) with a grant Twitch issued to `ownerId`, last
 * validated `ageMs` ago: what an import that guessed its user could once store (issue 17).
 * Returns the stored pair, to check at Twitch afterwards.
 */
export async function seedGrantOfAnotherUser(userId: string, login: string, ownerId: string, ageMs: number) {
  return seedValidatedGrant(userId, login, ageMs, ownerId);
}

/**
 * Stores a fresh grant Twitch issued to `ownerId` (by default the user) in `userId`'s vault, as
 * validated `ageMs` ago, and enrols the user in the sweep. Returns the stored pair.
 */
export async function seedValidatedGrant(userId: string, login: string, ageMs: number, ownerId = userId) {
  const validatedAt = Date.now() - ageMs;
  const grant = await storeStandinGrant(userId, { validatedAt, ownerId, login });
  await directory().registerMany([userId], validatedAt);
  return grant;
}

/** Whether Twitch still honours either token of a pair: the access token validates, or the refresh token refreshes. */
export async function pairIsAlive(pair: { access_token: string; refresh_token: string }): Promise<boolean> {
  const validate = await fetch(`${TWITCH}/oauth2/validate`, { headers: { Authorization: `OAuth ${pair.access_token}` } });
  const refresh = await fetch(`${TWITCH}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: pair.refresh_token,
      client_id: TEST_BINDINGS.TWITCH_CLIENT_ID,
      client_secret: TEST_BINDINGS.TWITCH_CLIENT_SECRET,
    }),
  });
  return validate.status === 200 || refresh.status === 200;
}

/**
 * Checks that `userId`'s vault ended a grant holding another user's tokens: revoked with the
 * reason in its audit trail, its own login kept (never the other user's), the pair revoked at Twitch.
 */
export async function expectEndedAsAnotherUsers(userId: string, login: string, pair: { access_token: string; refresh_token: string }): Promise<void> {
  expect(await vault(userId).summary()).toMatchObject({ userId, login, status: 'revoked' });
  expect((await vault(userId).events())?.at(-1)).toMatchObject({ event: 'revoked', detail: 'identity_mismatch' });
  // Revocations at Twitch run in the vault's alarm: brought forward here.
  await runDurableObjectAlarm(vault(userId));
  expect(await pairIsAlive(pair)).toBe(false);
}
