import { app } from './app';
import type { Env } from './env';
import { runScheduledSweep } from './sweep/sweep';

export { AppTokenMinter } from './vault/app-token-minter';
export { OneTimeStore } from './vault/one-time-store';
export { UserVault } from './vault/user-vault';
export { UserDirectory } from './sweep/user-directory';
export { LoginRateLimiter } from './http/login-rate-limiter';
export { TokenBroker } from './rpc';

export default {
  fetch: app.fetch,
  /** The hourly cron: validates the app token and starts the user sweep. */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(runScheduledSweep(env));
  },
} satisfies ExportedHandler<Env>;
