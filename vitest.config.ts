import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { createTwitchStandin } from './standin/index';
import { createStandinNodeListener } from './standin/node-host';
import { createAnalyticsSqlStandin } from './test/analytics-sql/analytics-sql';
import { ANALYTICS_SQL_HOST, TEST_BINDINGS } from './test/test-bindings';

/**
 * Two projects. `workers`: the broker inside workerd (real KV, Durable Objects, cron), with every
 * outbound fetch answered by the local Twitch stand-in, the only fake. `node`: the stand-in's own
 * tests and the end-to-end test against a real `wrangler dev`-style server.
 */
/**
 * `npm run test:e2e`: the heavy end-to-end runs (every bench script in smoke mode, dry-run deploys,
 * the packed client installed into a fresh project, `npm start` itself, a real browser). CI runs
 * them after `npm test`; they stay out of it to keep the everyday suite quick.
 */
const E2E_FILES = [
  'test/scripts/bench-smoke.node.test.ts',
  'test/scripts/setup.node.test.ts',
  'test/client/package.node.test.ts',
  'test/e2e/npm-start.node.test.ts',
  'test/e2e/real-browser.node.test.ts',
];

const twitch = createTwitchStandin();
const twitchListener = createStandinNodeListener(twitch);
const analyticsSql = createAnalyticsSqlStandin();

export default defineConfig({
  test: {
    // The broker logs one JSON line per event; show them only for failing tests.
    silent: 'passed-only',
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: TEST_BINDINGS,
              serviceBindings: {
                // A second Worker calling the broker's TokenBroker entrypoint over a service binding.
                RPC_CALLER: 'rpc-caller',
                // Analytics Engine, recorded: the broker writes to METRICS, tests read METRICS_RECORDER.
                METRICS: { name: 'metrics-sink', entrypoint: 'RecordingDataset' },
                METRICS_RECORDER: { name: 'metrics-sink', entrypoint: 'Recorder' },
              },
              workers: [
                {
                  name: 'rpc-caller',
                  modules: true,
                  scriptPath: './test/rpc-caller/worker.js',
                  compatibilityDate: '2026-04-01',
                  // The pool runs the broker as "vitest-pool-workers-runner-<project>" (its own naming,
                  // not ours): in a user's account this is `service = "twitch-token-broker"`.
                  serviceBindings: { BROKER: { name: 'vitest-pool-workers-runner-workers', entrypoint: 'TokenBroker' } },
                },
                { name: 'metrics-sink', modules: true, scriptPath: './test/metrics-sink/worker.js', compatibilityDate: '2026-04-01' },
              ],
              // The Node listener form lets the stand-in drop connections like a real server would.
              // Cloudflare's Analytics Engine SQL API (CLOUDFLARE_API_BASE_URL in the tests) has its own stand-in.
              outboundService: {
                node: (incoming, outgoing) => (incoming.headers.host === ANALYTICS_SQL_HOST ? analyticsSql.listener : twitchListener)(incoming, outgoing),
              },
            },
          }),
        ],
        test: {
          name: 'workers',
          include: ['test/**/*.test.ts'],
          // Every file's console output is scanned for secrets after its tests.
          setupFiles: ['test/support/log-capture.ts'],
          exclude: ['test/**/*.node.test.ts'],
          // One stand-in serves every file: files run one at a time so their Twitch state stays apart.
          // `npm test` (scripts/test.ts) runs several of these processes at once, each with its own.
          fileParallelism: false,
          testTimeout: 30_000,
          // A reset after a long test wakes every object the file created (test/support/reset.ts);
          // on a busy two-core machine, with the other shards running, that can pass 30 s.
          hookTimeout: 90_000,
        },
      },
      {
        test: {
          name: 'node',
          include: ['test/**/*.node.test.ts'],
          exclude: E2E_FILES,
          environment: 'node',
          // These mostly wait on child processes (wrangler dev, the stand-in): two at a time.
          maxWorkers: 2,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: E2E_FILES,
          environment: 'node',
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
