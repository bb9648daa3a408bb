import type { Env } from '../env';
import { ConfigError } from '../errors';
import { logEvent } from '../log';
import { forgetAppToken } from '../vault/app-token-cache';
import { appTokenMinter, userDirectory } from '../vault/stubs';
import type { AppTokenCheck } from '../vault/vault-types';
import { checkSweepSettings } from './sweep-settings';
import type { SweepCounts } from './sweep-counts';

/** What a sweep came to: the app token's check and the first batch of users. */
export interface SweepReport extends SweepCounts {
  app: AppTokenCheck;
}

/**
 * The hourly validation, shared by the cron and `POST /admin/sweep`: checks the app token (and
 * puts it back in KV), then runs one batch of the directory's (after any batch already running:
 * they never overlap) and leaves the rest to its alarm. `force` starts a pass over every user in
 * use. Throws a ConfigError, once, when the settings it needs are broken.
 */
export async function runSweep(env: Env, options: { force: boolean }): Promise<SweepReport> {
  checkSweepSettings(env);

  const minter = appTokenMinter(env);
  const app = await minter.validate();
  if (app === 'minted') forgetAppToken();

  const directory = userDirectory(env);
  const counts = await directory.sweep({ force: options.force });
  const report = { app, ...counts };
  logEvent('sweep.run', { force: options.force, ...report });
  return report;
}

/** The cron entry: a broken configuration is logged once, clearly, instead of failing per user. */
export async function runScheduledSweep(env: Env): Promise<void> {
  try {
    await runSweep(env, { force: false });
  } catch (error) {
    if (error instanceof ConfigError) {
      logEvent('sweep.skipped', { reason: error.message });
      return;
    }
    throw error;
  }
}
