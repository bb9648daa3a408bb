import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseCli } from '../scripts/cli-args';
import { API_KEY, configureStandin, logIn, startSystem, upstreamCallCount, type BenchSystem, type LoggedInUser } from './broker';
import { measureBundle, type BundleSize } from './bundle';
import { runScenario, type Scenario, type ScenarioTotals } from './load';
import { announceSmoke, SMOKE } from './smoke';
import { randomClientAddress } from '../scripts/random-address';

/**
 * The hot-path benchmark (issue 5). Starts the Twitch stand-in and the Worker under `wrangler dev`
 * with fresh state, logs users in, then either
 *   (default) drives steady load at /health, /token/app, /token, /token/users/:id and /authorize,
 *             counting upstream calls and measuring the deployable bundle, or
 *   --burst   fires 500 concurrent cold requests at /token/app and at an expired user's /token,
 *             counting the upstream calls each burst caused.
 * Throughput is judged only as a ratio to /health measured in the same run, on the same machine:
 * absolute numbers on a shared two-core box mean little. Prints a verdict against the targets and
 * writes the figures to bench/results/.
 *
 *   npx tsx bench/run.ts [--seconds 2] [--rounds 8] [--connections 10]
 *   npx tsx bench/run.ts --burst [--burst-size 500]
 */

interface Options {
  burst: boolean;
  seconds: number;
  rounds: number;
  connections: number;
  burstSize: number;
}

const USAGE = `
Usage: npm run bench -- [--seconds N] [--rounds N] [--connections N]
       npm run bench:burst -- [--burst-size N]      (the same as npm run bench -- --burst)

The hot-path benchmark: starts the Twitch stand-in and the Worker under wrangler dev with fresh
state, logs users in, then drives steady load at /health, /token/app, /token, /token/users/:id and
/authorize (or, with --burst, fires concurrent cold requests at /token/app and at an expired
user's /token), counts upstream calls, prints a verdict against the targets and writes the figures
to bench/results/.

Options:
  --seconds N      seconds per scenario and round, 1 to 60 (default: 2)
  --rounds N       rounds per scenario, 1 to 20 (default: 8)
  --connections N  concurrent connections, 1 to 200 (default: 10)
  --burst          the burst run instead of steady load
  --burst-size N   requests per burst, 1 to 2000 (default: 500)
  -h, --help       print this and exit

Environment: BENCH_SMOKE=1 runs a shrunk version in seconds (figures meaningless, nothing written to bench/results/).
Exit code: 0 every target met; 1 a target missed or the run failed; 2 bad arguments.
`;

function readOptions(args: string[]): Options {
  const { values } = parseCli(
    {
      script: 'bench',
      usage: USAGE,
      options: {
        burst: { type: 'boolean', default: false },
        seconds: { type: 'string', default: '2' },
        rounds: { type: 'string', default: '8' },
        connections: { type: 'string', default: '10' },
        'burst-size': { type: 'string', default: '500' },
      },
      rules: { seconds: { min: 1, max: 60 }, rounds: { min: 1, max: 20 }, connections: { min: 1, max: 200 }, 'burst-size': { min: 1, max: 2000 } },
    },
    args,
  );
  return {
    burst: values.burst,
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    connections: Number(values.connections),
    burstSize: Number(values['burst-size']),
  };
}

interface Target {
  target: string;
  measured: string;
  pass: boolean;
}

const USER_IDS = ['100001', '100002', '100003'];
/** A random documentation-range IPv6 address. */
const RESULTS_DIR = join(import.meta.dirname, 'results');

function scenarios(users: LoggedInUser[]): Scenario[] {
  const apiKey = { Authorization: `Bearer ${API_KEY}` };
  return [
    { name: '/health', success: '2xx', requests: [{ method: 'GET', path: '/health' }] },
    { name: '/token/app', success: '2xx', requests: [{ method: 'GET', path: '/token/app', headers: apiKey }] },
    { name: '/token (cookie)', success: '2xx', requests: users.map((user) => ({ method: 'GET', path: '/token', headers: { Cookie: user.cookie } })) },
    {
      name: '/token (bearer)',
      success: '2xx',
      requests: users.map((user) => ({ method: 'GET', path: '/token', headers: { Authorization: `Bearer ${user.sessionToken}` } })),
    },
    { name: '/token/users/:id', success: '2xx', requests: users.map((user) => ({ method: 'GET', path: `/token/users/${user.userId}`, headers: apiKey })) },
    {
      name: '/authorize',
      success: '3xx',
      // Logins come from many addresses: one address would only measure the per-address rate limit.
      requests: [
        {
          method: 'GET',
          path: '/authorize',
          setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'CF-Connecting-IP': randomClientAddress() } }),
        },
      ],
    },
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Smoke runs (BENCH_SMOKE=1): one short round, a small burst, whatever the arguments asked for. */
const smokeOptions = (options: Options): Options => (SMOKE ? { ...options, seconds: 1, rounds: 1, connections: 2, burstSize: 20 } : options);

function writeResults(kind: 'load' | 'burst', figures: object): string {
  if (SMOKE) return '(not written: smoke run)';
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const body = `${JSON.stringify({ kind, at: new Date().toISOString(), commit: gitCommit(), node: process.version, cpus: cpus().length, ...figures }, null, 2)}\n`;
  const file = join(RESULTS_DIR, `${stamp}-${kind}.json`);
  writeFileSync(file, body);
  writeFileSync(join(RESULTS_DIR, kind === 'load' ? 'latest.json' : 'latest-burst.json'), body);
  return file;
}

/** Prints the verdict; whether every target was met (always, in a smoke run: its short rounds judge nothing). */
function printVerdict(targets: Target[]): boolean {
  console.log('\nverdict');
  for (const { target, measured, pass } of targets) console.log(`  ${pass ? 'PASS' : 'MISS'}  ${target.padEnd(44)} ${measured}`);
  const allPass = targets.every((target) => target.pass);
  console.log(allPass ? '  all targets met' : '  TARGETS MISSED');
  if (SMOKE) console.log('  (smoke run: the verdict does not set the exit code)');
  return allPass || SMOKE;
}

async function runLoad(system: BenchSystem, options: Options): Promise<void> {
  const users: LoggedInUser[] = [];
  for (const userId of USER_IDS) users.push(await logIn(system, userId));
  const list = scenarios(users);

  console.log(`warming up (${list.length} endpoints, 1 s each)`);
  for (const scenario of list) await runScenario(system.broker.url, scenario, { seconds: 1, connections: options.connections });

  const before = await upstreamCallCount(system);
  // The token paths are interleaved in short rounds, each round in a rotated order, so drift and
  // noise from other processes on the machine fall on every endpoint alike. /authorize runs last:
  // each request creates a login-state Durable Object, and their clean-up would otherwise land on
  // whichever endpoint came next.
  const interleaved = list.filter((scenario) => scenario.name !== '/authorize');
  const authorize = list.find((scenario) => scenario.name === '/authorize')!;
  console.log(`load: ${options.rounds} rounds x ${options.seconds} s per endpoint, ${options.connections} connections, rotating order; then /authorize`);
  const totals = new Map<string, ScenarioTotals>();
  const runOnce = async (scenario: Scenario) => totals.set(scenario.name, await runScenario(system.broker.url, scenario, options, totals.get(scenario.name)));
  for (let round = 0; round < options.rounds; round++) {
    for (let index = 0; index < interleaved.length; index++) await runOnce(interleaved[(index + round) % interleaved.length]!);
  }
  for (let round = 0; round < options.rounds; round++) await runOnce(authorize);
  const after = await upstreamCallCount(system);
  const upstreamCalls = after.total - before.total;

  const healthRate = totals.get('/health')!.requests / totals.get('/health')!.seconds;
  const cpuPerRequest = (total: ScenarioTotals) => (total.brokerCpuSeconds === null ? null : (total.brokerCpuSeconds * 1e6) / total.requests);
  const healthCpu = cpuPerRequest(totals.get('/health')!);
  const endpoints = [...totals.values()].map((total) => {
    const requestsPerSecond = total.requests / total.seconds;
    return {
      endpoint: total.name,
      requestsPerSecond: Math.round(requestsPerSecond),
      p50Ms: median(total.p50s),
      p99Ms: median(total.p99s),
      requests: total.requests,
      unsuccessful: total.failures,
      socketErrors: total.errors,
      ratioToHealth: Number((requestsPerSecond / healthRate).toFixed(3)),
      brokerCpuMicrosecondsPerRequest: cpuPerRequest(total) === null ? null : Math.round(cpuPerRequest(total)!),
      brokerCpuRatioToHealth: cpuPerRequest(total) === null || !healthCpu ? null : Number((cpuPerRequest(total)! / healthCpu).toFixed(3)),
      statusCodes: total.statusCodes,
    };
  });

  console.log('\nendpoint              req/s    p50 ms   p99 ms   non-success   x /health   broker CPU µs/req (x /health)');
  for (const row of endpoints) {
    console.log(
      `${row.endpoint.padEnd(20)} ${String(row.requestsPerSecond).padStart(6)} ${row.p50Ms.toFixed(1).padStart(9)} ${row.p99Ms.toFixed(1).padStart(8)} ${String(row.unsuccessful + row.socketErrors).padStart(13)} ${row.ratioToHealth.toFixed(2).padStart(11)}   ${row.brokerCpuMicrosecondsPerRequest === null ? 'n/a' : `${String(row.brokerCpuMicrosecondsPerRequest).padStart(6)} (${row.brokerCpuRatioToHealth!.toFixed(2)})`}`,
    );
  }
  console.log('(p50, p99: median over rounds; /authorize counts 302 as success; broker CPU: wrangler dev + workerd processes, from /proc)');
  console.log(`\nupstream Twitch calls during the load: ${upstreamCalls} (stand-in /_standin/calls, before ${before.total}, after ${after.total})`);

  console.log('\nmeasuring the deployable bundle (wrangler deploy --dry-run)');
  const bundle: BundleSize = await measureBundle();
  console.log(
    `bundle: ${(bundle.bytes / 1024).toFixed(1)} KiB, gzip ${(bundle.gzipBytes / 1024).toFixed(1)} KiB (${bundle.wranglerReport ?? 'wrangler printed no size'})`,
  );

  const ratio = (name: string) => endpoints.find((row) => row.endpoint === name)!.ratioToHealth;
  const sessionRatio = Math.min(ratio('/token (cookie)'), ratio('/token (bearer)'));
  const failed = (row: (typeof endpoints)[number]) => row.unsuccessful + row.socketErrors;
  const tokenPathFailures = endpoints.filter((row) => row.endpoint !== '/authorize').reduce((sum, row) => sum + failed(row), 0);
  const authorizeFailures = failed(endpoints.find((row) => row.endpoint === '/authorize')!);
  if (tokenPathFailures + authorizeFailures > 0) {
    // What the broker said about it: wrangler dev's output (warnings and errors) goes with the figures.
    const said = system.broker
      .output()
      .split('\n')
      .filter((line) => /error|exception|fail/i.test(line) && !/workers\.cloudflare\.com|Request\.cf/.test(line));
    console.log(
      `\nwrangler dev output mentioning errors (${said.length} lines, first 10):\n${said
        .slice(0, 10)
        .map((line) => `  ${line.slice(0, 300)}`)
        .join('\n')}`,
    );
  }
  const targets: Target[] = [
    { target: '/token/app >= 0.9 x /health throughput', measured: `${ratio('/token/app').toFixed(2)}x`, pass: ratio('/token/app') >= 0.9 },
    { target: '/token (session) >= 0.7 x /health throughput', measured: `${sessionRatio.toFixed(2)}x (worse of cookie, bearer)`, pass: sessionRatio >= 0.7 },
    { target: 'zero upstream Twitch calls in steady state', measured: String(upstreamCalls), pass: upstreamCalls === 0 },
    { target: 'no failed requests on the token paths', measured: String(tokenPathFailures), pass: tokenPathFailures === 0 },
    { target: 'bundle <= 60 KB gzip', measured: `${(bundle.gzipBytes / 1000).toFixed(1)} KB`, pass: bundle.gzipBytes <= 60_000 },
  ];
  const pass = printVerdict(targets);
  if (authorizeFailures > 0)
    console.log(
      `  NOTE  /authorize (no target): ${authorizeFailures} failed responses ${JSON.stringify(endpoints.find((row) => row.endpoint === '/authorize')!.statusCodes)}`,
    );
  const file = writeResults('load', {
    settings: { seconds: options.seconds, rounds: options.rounds, connections: options.connections, users: USER_IDS.length },
    endpoints,
    upstreamCallsDuringLoad: upstreamCalls,
    bundle,
    targets,
    pass,
  });
  console.log(`\nwritten: ${file}`);
  if (!pass) process.exitCode = 1;
}

/** Fires `count` requests at once and tallies the statuses and distinct access tokens returned. */
async function burst(url: string, headers: Record<string, string>, count: number) {
  const statuses: Record<string, number> = {};
  const tokens = new Set<string>();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, async () => {
      try {
        const response = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        const body = (await response.json()) as { access_token?: string };
        if (body.access_token) tokens.add(body.access_token);
      } catch {
        statuses['network error'] = (statuses['network error'] ?? 0) + 1;
      }
    }),
  );
  return { statuses, distinctAccessTokens: tokens.size, milliseconds: Math.round(performance.now() - started) };
}

async function runBurst(system: BenchSystem, options: Options): Promise<void> {
  const { broker } = system;
  const count = options.burstSize;

  // Nothing has asked for the app token yet: memory, KV and the minter are all empty.
  let before = await upstreamCallCount(system);
  const appBurst = await burst(`${broker.url}/token/app`, { Authorization: `Bearer ${API_KEY}` }, count);
  let after = await upstreamCallCount(system);
  const app = { ...appBurst, upstreamCalls: after.total - before.total, clientCredentialsCalls: after.clientCredentials - before.clientCredentials };
  console.log(
    `/token/app, ${count} concurrent cold requests: ${app.upstreamCalls} upstream call(s) (${app.clientCredentialsCalls} client_credentials), statuses ${JSON.stringify(app.statuses)}, ${app.distinctAccessTokens} distinct token(s), ${app.milliseconds} ms`,
  );

  // A user whose stored token is inside the broker's 5-minute refresh margin from the start.
  await configureStandin(system, { userAccessTokenTtlSeconds: 120 });
  let user: LoggedInUser;
  try {
    user = await logIn(system, USER_IDS[0]!);
  } finally {
    await configureStandin(system, { userAccessTokenTtlSeconds: 14400 });
  }
  before = await upstreamCallCount(system);
  const userBurst = await burst(`${broker.url}/token`, { Authorization: `Bearer ${user.sessionToken}` }, count);
  after = await upstreamCallCount(system);
  const expired = { ...userBurst, upstreamCalls: after.total - before.total, refreshCalls: after.refresh - before.refresh };
  console.log(
    `/token, expired user, ${count} concurrent requests: ${expired.upstreamCalls} upstream call(s) (${expired.refreshCalls} refresh_token), statuses ${JSON.stringify(expired.statuses)}, ${expired.distinctAccessTokens} distinct token(s), ${expired.milliseconds} ms`,
  );

  const allOk = (statuses: Record<string, number>) => statuses['200'] === count;
  const targets: Target[] = [
    { target: 'cold /token/app burst: exactly one upstream call', measured: String(app.upstreamCalls), pass: app.upstreamCalls === 1 },
    { target: 'expired-user /token burst: exactly one upstream call', measured: String(expired.upstreamCalls), pass: expired.upstreamCalls === 1 },
    {
      target: `every burst request answered 200 with one token`,
      measured: `${app.statuses['200'] ?? 0} + ${expired.statuses['200'] ?? 0} of ${2 * count}`,
      pass: allOk(app.statuses) && allOk(expired.statuses) && app.distinctAccessTokens === 1 && expired.distinctAccessTokens === 1,
    },
  ];
  const pass = printVerdict(targets);
  const file = writeResults('burst', { settings: { burstSize: count }, appTokenBurst: app, expiredUserBurst: expired, targets, pass });
  console.log(`\nwritten: ${file}`);
  if (!pass) process.exitCode = 1;
}

async function main(): Promise<void> {
  const options = smokeOptions(readOptions(process.argv.slice(2)));
  announceSmoke();
  console.log('starting the Twitch stand-in and wrangler dev (fresh local state)');
  const system = await startSystem();
  const stopOnSignal = () => void system.stop().then(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  try {
    if (options.burst) await runBurst(system, options);
    else await runLoad(system, options);
  } finally {
    await system.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
