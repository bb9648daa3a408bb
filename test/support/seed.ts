import { env } from 'cloudflare:workers';
import { userDirectory, userVault } from '../../src/vault/stubs';
import { TEST_BINDINGS, TWITCH } from '../test-bindings';
import { twitch } from './twitch';

export const HOUR = 3600_000;

/** The one user directory. */
export const directory = () => userDirectory(env);
/** A user's vault. */
export const vault = (userId: string) => userVault(env, userId);

/**
 * Seeds users straight into their vaults and the directory, as past logins would have left them:
 * a grant issued by the stand-in, last validated `ageMs` ago.
 */
export async function seedUsers(count: number, firstId: number, ageMs: number): Promise<string[]> {
  await twitch.addUsers(count, firstId);
  const ids = Array.from({ length: count }, (_, i) => String(firstId + i));
  const validatedAt = Date.now() - ageMs;
  for (let i = 0; i < ids.length; i += 100) {
    await Promise.all(
      ids.slice(i, i + 100).map(async (userId) => {
        const grant = await twitch.grant(userId);
        await vault(userId).storeGrant({
          userId,
          login: `user_${userId}`,
          accessToken: grant.access_token,
          refreshToken: grant.refresh_token,
          expiresAt: Date.now() + grant.expires_in * 1000,
          scopes: grant.scope,
          validatedAt,
        });
      }),
    );
  }
  await directory().registerMany(ids, validatedAt);
  return ids;
}

/** Whether Twitch still honours either token of a pair: the access token validates, or the refresh token refreshes. */
export async function pairIsAlive(pair: { access_token: string; refresh_token: string }): Promise<boolean> {
  const validate = await fetch(`${TWITCH}/oauth2/validate`, { headers: { Authorization: `OAuth ${pair.access_token}` } });
  const refresh = await fetch(`${TWITCH}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: TEST_BINDINGS.TWITCH_CLIENT_ID, client_secret: TEST_BINDINGS.TWITCH_CLIENT_SECRET }),
  });
  return validate.status === 200 || refresh.status === 200;
}
