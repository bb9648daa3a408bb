import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../src/config';
import { RevocationQueue } from '../src/vault/revocation-queue';
import { TWITCH } from './test-bindings';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

const statusAtTwitch = async (accessToken: string) => (await fetch(`${TWITCH}/oauth2/validate`, { headers: { Authorization: `OAuth ${accessToken}` } })).status;

describe('the revocation queue', () => {
  it('keeps a token queued while the alarm is busy revoking another (no lost update)', async () => {
    const config = getConfig(env);
    const [first, second] = [await twitch.grant('100001'), await twitch.grant('100001')];
    await runInDurableObject(env.USER_VAULT.get(env.USER_VAULT.idFromName('100001')), async (_instance, ctx) => {
      const queue = new RevocationQueue(ctx.storage, () => 'user:100001:revoke');
      await queue.add(config, [first.access_token]);
      // Twitch holds the first revocation for a second; a re-login queues another token meanwhile.
      await twitch.inject({ path: '/oauth2/revoke', kind: 'slow', delayMs: 1000 });
      const running = queue.runDue(config, '100001');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await queue.add(config, [second.access_token]);
      await running;

      expect(await queue.nextAttemptAt()).not.toBeNull();
      await queue.runDue(config, '100001');
      expect(await queue.nextAttemptAt()).toBeNull();
    });
    expect(await statusAtTwitch(first.access_token)).toBe(401);
    expect(await statusAtTwitch(second.access_token)).toBe(401);
  });
});
