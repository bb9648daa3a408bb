/**
 * `npm run bench:live`: what an idle live token connection costs per month, from counted
 * operations (bench/cost/live-idle.cost.ts runs the real vault inside workerd over a simulated day)
 * priced with Cloudflare's published prices (bench/prices.ts). While idle the vault hibernates and
 * is billed no duration; the costs are the alarms that refresh the token ahead of expiry.
 */
import { spawnSync } from 'node:child_process';
import { parseCli } from '../scripts/cli-args';
import { GB_PER_OBJECT, PRICES } from './prices';
import { announceSmoke } from './smoke';

interface LiveIdle {
  simulatedHours: number;
  alarms: number;
  refreshes: number;
  pushedMessages: number;
  alarmWallMs: number;
}

const USAGE = `
Usage: npm run bench:live

What an idle live token connection (GET /token/users/:id/live) costs per month: runs the real
vault inside workerd over a simulated day (bench/cost/live-idle.cost.ts), counts its alarms and
refreshes, and prices them with Cloudflare's published prices.

Options:
  -h, --help   print this and exit

Environment: BENCH_SMOKE=1 runs a shrunk version in seconds (figures meaningless, nothing written to bench/results/).
Exit code: 0 done; 1 the measurement failed.
`;
parseCli({ script: 'bench:live', usage: USAGE, options: {} });

/** A Twitch refresh answer's latency, added to each alarm's measured wall time (Twitch answers at once in the harness). */
const TWITCH_LATENCY_MS = 400;

announceSmoke();
const run = spawnSync('npx', ['vitest', 'run', '--config', 'bench/cost/vitest.config.ts', 'bench/cost/live-idle.cost.ts'], {
  encoding: 'utf8',
  maxBuffer: 16 * 1024 * 1024,
});
const line = `${run.stdout}\n${run.stderr}`.split('\n').find((text) => text.includes('LIVE_IDLE '));
if (!line) {
  console.error(run.stdout.slice(-3000), run.stderr.slice(-3000));
  throw new Error('the measurement printed no LIVE_IDLE line');
}
const day = JSON.parse(line.slice(line.indexOf('LIVE_IDLE ') + 'LIVE_IDLE '.length)) as LiveIdle;
const perMonth = 30 * (24 / day.simulatedHours);
const requests = day.alarms * perMonth;
const gbSeconds = ((day.alarmWallMs + day.refreshes * TWITCH_LATENCY_MS) / 1000) * GB_PER_OBJECT * perMonth;
const dollars = (requests / 1e6) * PRICES.doRequests.perMillion + (gbSeconds / 1e6) * PRICES.doGbSeconds.perMillion;

console.log(
  `measured over ${day.simulatedHours} simulated hours: ${day.alarms} alarms, ${day.refreshes} refreshes, ${day.pushedMessages} tokens pushed, ${day.alarmWallMs} ms in alarms`,
);
console.log(
  `per idle connection per month: ${requests.toFixed(0)} Durable Object requests, ${gbSeconds.toFixed(1)} GB-s (with ${TWITCH_LATENCY_MS} ms per Twitch refresh)`,
);
console.log(
  `priced (${PRICES.readOn}): $${dollars.toFixed(6)} per connection-month above the included usage; 10,000 idle bots: $${(dollars * 10_000).toFixed(2)}/month`,
);
