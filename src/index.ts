import { app } from './app';
import type { Env } from './env';
import { runScheduledSubscriptionCheck } from './eventsub/subscriptions';
import { runScheduledSweep } from './sweep/sweep';

export { AppTokenMinter } from './vault/app-token-minter';
export { OneTimeStore } from './vault/one-time-store';
export { UserVault } from './vault/user-vault';
export { UserDirectory } from './sweep/user-directory';
export { SweepLane } from './sweep/sweep-lane';
export { LoginRateLimiter } from './http/login-rate-limiter';
export { TokenBroker } from './rpc';
export { DeviceFlow } from './device/device-flow';

export default {
  fetch: app.fetch,
  /** The hourly cron: validates the app token, starts the user sweep, keeps the EventSub subscription. */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(runScheduledSweep(env));
    ctx.waitUntil(runScheduledSubscriptionCheck(env));
  },
} satisfies ExportedHandler<Env>;
