import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Every benchmark entry point in package.json (every `bench*` script, and the soak) still builds,
 * runs and prints its figures: each is run as an operator would, `npm run <script>`, with
 * BENCH_SMOKE=1 (bench/smoke.ts) shrinking its counts and durations. The figures themselves are
 * not judged (a smoke run's are meaningless); that it ends with exit code 0 and prints them is.
 * Scripts that need `wrangler dev` (bench, bench:burst, soak) each start their own fresh one, as
 * they always do: a cold broker is what they measure, so one boot cannot be shared.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = `${ROOT}bench/results`;
const scripts = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;

/** What each entry point prints when it works: a line of its figures. */
const PRINTS: Record<string, RegExp[]> = {
  bench: [/^upstream Twitch calls during the load: \d+/m, /^bundle: [\d.]+ KiB, gzip [\d.]+ KiB/m, /^verdict$/m],
  'bench:burst': [/^\/token\/app, 20 concurrent cold requests: \d+ upstream call/m, /^\/token, expired user, 20 concurrent requests: \d+ upstream call/m],
  'bench:micro': [
    /sweep: 30 copies validated \(one invocation\)\s+[\d.]+\s+[\d.]+/,
    /^start-up: evaluating the bundled Worker took [\d.]+ ms and made 0 WebCrypto\/fetch calls$/m,
  ],
  'bench:bundle': [/^bundle: [\d.]+ KiB, gzip [\d.]+ KiB/m, /^minified composition/m],
  'bench:sweep': [/every user validated within the hour \(after the first\): yes/, /per 1,000 users per hour: \d+ directory invocations/],
  'bench:cost': [
    /^cost: \$\d+\.\d\d\/month at 100k users \(paid, worst profile, callers included\), free plan holds \d+ users$/m,
    /^worst profile: \w+ at \d+ ms: overhead \$[\d.]+, total \$[\d.]+/m,
  ],
  'bench:live': [/^per idle connection per month: \d+ Durable Object requests, [\d.]+ GB-s/m],
  soak: [/^OK: no user lost, no refresh token used twice/m],
};

/** Runs `npm run <script>` in smoke mode; its exit code and everything it printed. */
function runSmoke(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BENCH_SMOKE: '1', CI: '1', NO_COLOR: '1', WRANGLER_SEND_METRICS: 'false' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/**
 * The cost benchmark's figures per operation (its `COST_UNITS` line) are each counted from what that
 * operation did: none may be negative (as a share subtracted from a phase came out before), and the
 * harness's own calls are never among them (the measurement itself checks that every
 * `runDurableObjectAlarm` deleteAlarm was set apart as the harness's, or exits non-zero).
 */
function expectHonestCostUnits(output: string): void {
  const line = output.split('\n').find((text) => text.startsWith('COST_UNITS '));
  expect(line, 'bench:cost printed no COST_UNITS line').toBeDefined();
  const { units, harnessCounted, negative } = JSON.parse(line!.slice('COST_UNITS '.length)) as {
    units: Record<string, Record<string, number>>;
    harnessCounted: number;
    negative: string[];
  };
  expect(negative).toEqual([]);
  expect(harnessCounted).toBe(0);
  for (const [operation, figures] of Object.entries(units)) {
    for (const [figure, n] of Object.entries(figures)) expect(n, `${operation}.${figure}`).toBeGreaterThanOrEqual(0);
  }
  // An idle spell writes rows, as the statements it runs do: setting a user aside and bringing them back.
  expect(units.setAside!.rowsWritten! + units.bringBack!.rowsWritten!).toBeGreaterThan(0);
}

const resultsNow = () => Object.fromEntries(readdirSync(RESULTS).map((name) => [name, readFileSync(`${RESULTS}/${name}`, 'utf8')]));
let resultsBefore: Record<string, string>;
beforeAll(() => {
  resultsBefore = resultsNow();
});

describe('every benchmark entry point runs in smoke mode', () => {
  const entryPoints = Object.keys(scripts).filter((name) => name.startsWith('bench') || name === 'soak');

  it('knows what each entry point prints (a new one needs its line here)', () => {
    expect(entryPoints.sort()).toEqual(Object.keys(PRINTS).sort());
  });

  for (const script of entryPoints) {
    it(`npm run ${script} ends with exit code 0 and prints its figures`, async () => {
      const { code, output } = await runSmoke(script);
      if (code !== 0) throw new Error(`npm run ${script} exited ${code}:\n${output.slice(-4000)}`);
      for (const pattern of PRINTS[script] ?? []) expect(output, `npm run ${script} printed:\n${output.slice(-3000)}`).toMatch(pattern);
      if (script === 'bench:cost') expectHonestCostUnits(output);
    }, 180_000);
  }
});

afterAll(() => {
  // A smoke run's figures are meaningless: the committed bench/results/latest*.json stay as they were.
  expect(resultsNow()).toEqual(resultsBefore);
});
