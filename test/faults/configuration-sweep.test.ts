import type { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { freshStateForEachTest } from '../support/reset';
import { directory } from '../support/seed';
import { twitch } from '../support/twitch';

freshStateForEachTest();

describe('a missing secret during the sweep’s batches', () => {
  it('logs one clear line per batch, calls nobody, and leaves every user due for when it is fixed', async () => {
    const users = ['300001', '300002', '300003'];
    await directory().registerMany(users, Date.now() - 2 * 3600_000);
    const log = vi.spyOn(console, 'log');
    await runInDurableObject(directory(), async (instance) => {
      // The directory's alarm runs with the settings a deployment without the secret would have.
      const settings = instance as unknown as { env: typeof env };
      const original = settings.env;
      settings.env = { ...original, TWITCH_CLIENT_SECRET: undefined } as unknown as typeof env;
      try {
        await instance.alarm();
      } finally {
        settings.env = original;
      }
    });
    const lines = log.mock.calls.map((call) => String(call[0])).filter((line) => line.includes('sweep'));
    log.mockRestore();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('TWITCH_CLIENT_SECRET');
    expect(await directory().stats()).toMatchObject({ users: 3, active: 3, due: 3 });
    expect((await twitch.counts()).validate).toBe(0);
  });
});
