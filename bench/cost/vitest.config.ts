import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { createTwitchStandin } from '../../standin/index';
import { createStandinNodeListener } from '../../standin/node-host';
import { TEST_BINDINGS } from '../../test/test-bindings';

/**
 * The cost measurement (bench/cost/measure.cost.ts) inside workerd, with the same bindings and
 * Twitch stand-in as the tests. Run through `npm run bench:cost`, which prices what it prints.
 */
const twitch = createTwitchStandin();

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['bench/cost/*.cost.ts'],
    testTimeout: 600_000,
  },
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        // BENCH_SMOKE=1 (bench/smoke.ts) reaches the measurement as a binding: it shrinks its counts.
        bindings: { ...TEST_BINDINGS, BENCH_SMOKE: process.env.BENCH_SMOKE ?? '' },
        outboundService: { node: createStandinNodeListener(twitch) },
      },
    }),
  ],
});
