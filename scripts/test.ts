/**
 * `npm test`: the whole suite, as several vitest processes at once.
 *
 * The workers project runs its files one at a time, because every file talks to one Twitch
 * stand-in. Most of its time is spent waiting (deadlines, backoffs, hangs that the stand-in holds
 * open), not computing, so shards in separate processes (each with its own workerd, its own
 * stand-in and its own Durable Object storage) overlap that waiting on a two-core machine. The
 * node project runs beside them. Each process's output is printed whole when it ends, then one
 * summary line.
 *
 * `npm test -- <files or filters>` runs plain `vitest run` on them instead (see USAGE).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli } from './cli-args';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VITEST = join(ROOT, 'node_modules/vitest/vitest.mjs');
const DURATIONS_FILE = join(ROOT, 'test/durations.json');
const USAGE = `
Usage: npm test [-- [files or name filters…] [-t PATTERN] [--project workers|node|e2e] [--bail N] [-u]]
       npm test -- --record-durations

Without arguments: the whole suite, the workers project in parallel shards (each its own workerd,
stand-in and storage) beside the node project, then one summary line. With files, filters or the
options below: one plain \`vitest run\` with them (any other vitest option: npx vitest run …).

Options:
  -t, --testNamePattern PATTERN  only tests whose name matches
  --project NAME                 workers, node or e2e (e2e: what npm run test:e2e runs)
  --bail N                       stop after N failures
  -u, --update                   update snapshots
  --record-durations             run the whole suite and rewrite test/durations.json, the per-file
                                 times the shards are balanced by
  -h, --help                     print this and exit

Environment: TEST_SHARDS (default 5) workers shards.
Exit code: 0 every test passed; 1 a test or a process failed; 2 bad arguments.
`;

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTotalTestSuites: number;
  success: boolean;
  testResults: { name: string; startTime: number; endTime: number; status: string }[];
}

/** Test files of the workers project, as vitest.config.ts includes them. */
function workersTestFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.test.ts') && !entry.name.endsWith('.node.test.ts')) files.push(relative(ROOT, path));
    }
  };
  walk(join(ROOT, 'test'));
  return files.sort();
}

/** Splits files into `count` shards of about equal recorded time (longest first, into the lightest shard). */
function balance(files: string[], count: number): string[][] {
  let recorded: Record<string, number> = {};
  try {
    recorded = JSON.parse(readFileSync(DURATIONS_FILE, 'utf8')) as Record<string, number>;
  } catch {
    // No record yet: every file weighs the same as its size suggests.
  }
  const known = Object.values(recorded);
  const typical = known.length > 0 ? known.sort((a, b) => a - b)[Math.floor(known.length / 2)]! : 1;
  const weight = (file: string) => recorded[file] ?? typical * Math.max(0.5, statSync(join(ROOT, file)).size / 8_000);
  const shards = Array.from({ length: count }, () => ({ files: [] as string[], total: 0 }));
  for (const file of [...files].sort((a, b) => weight(b) - weight(a))) {
    const lightest = shards.reduce((min, shard) => (shard.total < min.total ? shard : min));
    lightest.files.push(file);
    lightest.total += weight(file);
  }
  return shards.map((shard) => shard.files).filter((shardFiles) => shardFiles.length > 0);
}

/** Runs one vitest process, its output kept until it ends; resolves with its exit code and JSON report. */
function runVitest(label: string, args: string[], reportFile: string): Promise<{ label: string; code: number; output: string; report: VitestReport | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VITEST, 'run', ...args, '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? (process.stdout.isTTY ? '1' : '0') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('close', (code) => {
      let report: VitestReport | null = null;
      try {
        report = JSON.parse(readFileSync(reportFile, 'utf8')) as VitestReport;
      } catch {
        // No report: the process died before writing one; its exit code says so.
      }
      resolve({ label, code: code ?? 1, output: Buffer.concat(chunks).toString('utf8'), report });
    });
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseCli({
    script: 'test',
    usage: USAGE,
    allowPositionals: true,
    rules: { bail: { min: 1, max: 10_000 }, project: { oneOf: ['workers', 'node', 'e2e'] } },
    options: {
      testNamePattern: { type: 'string', short: 't' },
      project: { type: 'string' },
      bail: { type: 'string' },
      update: { type: 'boolean', short: 'u' },
      'record-durations': { type: 'boolean' },
    },
  });
  const record = values['record-durations'] === true;
  const passThrough = [
    ...positionals,
    ...(values.testNamePattern === undefined ? [] : ['-t', values.testNamePattern]),
    ...(values.project === undefined ? [] : ['--project', values.project]),
    ...(values.bail === undefined ? [] : ['--bail', values.bail]),
    ...(values.update ? ['-u'] : []),
  ];
  if (passThrough.length > 0) {
    const child = spawn(process.execPath, [VITEST, 'run', ...passThrough], { cwd: ROOT, stdio: 'inherit' });
    return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  }

  const shardCount = Math.max(1, Number(process.env.TEST_SHARDS ?? 5) || 5);
  const shards = balance(workersTestFiles(), shardCount);
  const reports = mkdtempSync(join(tmpdir(), 'ttb-test-'));
  const started = Date.now();
  const runs = [
    ...shards.map((files, index) => ({ label: `workers ${index + 1}/${shards.length} (${files.length} files)`, args: ['--project', 'workers', ...files] })),
    { label: 'node', args: ['--project', 'node'] },
  ].map((run, index) =>
    runVitest(run.label, run.args, join(reports, `report-${index}.json`)).then((result) => {
      console.log(`\n===== ${result.label}: exit ${result.code} after ${Math.round((Date.now() - started) / 1000)} s =====\n${result.output}`);
      return result;
    }),
  );
  const results = await Promise.all(runs);
  rmSync(reports, { recursive: true, force: true });

  const passed = results.reduce((sum, result) => sum + (result.report?.numPassedTests ?? 0), 0);
  const failed = results.reduce((sum, result) => sum + (result.report?.numFailedTests ?? 0), 0);
  const skipped = results.reduce((sum, result) => sum + (result.report?.numPendingTests ?? 0), 0);
  const broken = results.filter((result) => result.code !== 0 || result.report === null).map((result) => result.label);
  if (record && broken.length === 0) {
    const durations: Record<string, number> = {};
    for (const result of results) {
      // A shard runs its files one after another: a file's share of the shard's wall time runs to the
      // next file's start, so the resets in its hooks and the next import are counted (a file's own
      // start-to-end leaves them out, and a shard of reset-heavy files ran a minute past the others).
      const files = [...(result.report?.testResults ?? [])].sort((a, b) => a.startTime - b.startTime);
      files.forEach((file, index) => {
        const name = relative(ROOT, file.name);
        const until = files[index + 1]?.startTime ?? file.endTime;
        if (!name.endsWith('.node.test.ts')) durations[name] = Math.round((Math.max(until, file.endTime) - file.startTime) / 100) / 10;
      });
    }
    writeFileSync(DURATIONS_FILE, `${JSON.stringify(Object.fromEntries(Object.entries(durations).sort()), null, 2)}\n`);
    console.log(`recorded ${Object.keys(durations).length} file durations in ${relative(ROOT, DURATIONS_FILE)}`);
  }
  console.log(
    `\nwall time ${Math.round((Date.now() - started) / 1000)} s, ${results.length} processes${broken.length ? `; failed: ${broken.join(', ')}` : ''}`,
  );
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  return broken.length === 0 ? 0 : 1;
}

process.exitCode = await main();
