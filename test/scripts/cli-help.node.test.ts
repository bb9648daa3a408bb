import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WRANGLER_DEV_FLAGS } from '../../scripts/start-options';

/**
 * Every script behind `npm run` answers `--help` and refuses a mistyped option with one line,
 * before it does anything (no wrangler, no broker, no key minted). Run with tsx directly, as npm
 * run does, several at a time.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    // No API key or broker URL from the environment, and a folder without .dev.api-key: nothing can reach a broker.
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.BROKER_API_KEY;
    delete env.BROKER_URL;
    // Its own process group: a script that ignored --help and started wrangler is stopped whole.
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    }, 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** package.json's `"name": "tsx file.ts [args…]"` entries: every script a user runs with npm run. */
const scripts = Object.entries(
  (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts,
).flatMap(([name, command]) => {
  const [tool, file, ...args] = command.split(' ');
  return tool === 'tsx' && file?.endsWith('.ts') ? [{ name, file, args }] : [];
});

const runScript = (script: (typeof scripts)[number], args: string[]) => run(TSX, [script.file, ...script.args, ...args]);
/** A key `npm run api-key` mints, or its API_KEYS entry. */
const MINTED = /ttb_[A-Za-z0-9_-]{20,}|:[0-9a-f]{64}/;

describe.concurrent('npm run <script> -- --help', () => {
  it('covers every script package.json runs with tsx', () => {
    expect(scripts.map((script) => script.name).sort()).toEqual(
      [
        'api-key',
        'bench',
        'bench:bundle',
        'bench:burst',
        'bench:cost',
        'bench:live',
        'bench:micro',
        'bench:sweep',
        'import',
        'login',
        'setup',
        'soak',
        'start',
        'test',
      ].sort(),
    );
  });

  it.each(scripts)('$name: --help prints its usage, options and environment, and exits 0', async (script) => {
    const { code, stdout, stderr } = await runScript(script, ['--help']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: npm (run \S+|start|test)/);
    expect(stdout).toContain('-h, --help');
    expect(stdout).toMatch(/^Environment/m);
    expect(stdout).toMatch(/^Exit code/m);
    expect(stdout).not.toMatch(MINTED);
  });

  it.each(scripts)('$name: an unknown option is refused with one line naming it, no stack trace', async (script) => {
    const { code, stdout, stderr } = await runScript(script, ['--no-such-option']);
    expect(code).toBe(2);
    // bench:burst is bench/run.ts --burst, which calls itself bench.
    expect(stderr.trimEnd().split('\n')).toEqual([`${script.name.replace(/^bench:burst$/, 'bench')}: unknown option --no-such-option (see --help)`]);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stdout).toBe('');
  });
});

describe.concurrent('npm run api-key', () => {
  it('mints nothing for --help or -h', async () => {
    const script = scripts.find((entry) => entry.name === 'api-key')!;
    for (const flag of ['--help', '-h']) {
      const { code, stdout } = await runScript(script, [flag]);
      expect(code).toBe(0);
      expect(stdout).not.toMatch(MINTED);
    }
  });

  it('refuses a name that starts with "-", as an option or after --', async () => {
    const script = scripts.find((entry) => entry.name === 'api-key')!;
    for (const args of [
      ['-x', 'admin'],
      ['--', '-x', 'admin'],
      ['--', '--help', 'admin'],
    ]) {
      const { code, stdout, stderr } = await runScript(script, args);
      expect(code, args.join(' ')).toBe(2);
      expect(stdout, args.join(' ')).not.toMatch(MINTED);
      expect(stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it('still mints a key for a name and scopes', async () => {
    const script = scripts.find((entry) => entry.name === 'api-key')!;
    const { code, stdout } = await runScript(script, ['my-bot', 'users']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/my-bot:users:[0-9a-f]{64}/);
  });
});

describe('npm start', () => {
  it("passes on exactly the flags the installed wrangler dev takes (so an upgrade's new flag is noticed here)", async () => {
    const { code, stdout } = await run(process.execPath, [
      fileURLToPath(new URL('../../node_modules/wrangler/bin/wrangler.js', import.meta.url)),
      'dev',
      '--help',
    ]);
    expect(code).toBe(0);
    // Flag lines look like `  -c, --config    Path to …` or `      --routes, --route    Routes …`.
    const flags = stdout
      .split('\n')
      .filter((line) => /^\s+-/.test(line))
      .flatMap((line) =>
        line
          .trim()
          .split(/\s{2,}/)[0]!
          .split(', '),
      );
    const passedOn = flags.filter((flag) => !['-h', '--help', '-v', '--version', '--port', '--persist-to'].includes(flag));
    expect([...WRANGLER_DEV_FLAGS].sort()).toEqual(passedOn.sort());
  });
});
