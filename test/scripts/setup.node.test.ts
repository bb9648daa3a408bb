import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespaceId, withEnvSection } from '../../scripts/wrangler-toml';

/**
 * `npm run setup` against a fake `wrangler` first on PATH that records every call (arguments and stdin)
 * and answers like wrangler 4 does. Nothing reaches Cloudflare; the "deployed" Worker is a local server
 * answering /health.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KV_ID = '0123456789abcdef0123456789abcdef';
const CLIENT_ID = 'abcdefghijklmnopqrstuvwxyz0123';
const CLIENT_SECRET = 'client-secret-from-the-twitch-console';

// Answers like wrangler 4.86: whoami --json, kv namespace create (the TOML snippet), secret list (JSON),
// secret bulk (reads stdin), deploy (prints the workers.dev URL). FAKE_* variables steer it.
const FAKE_WRANGLER = `#!/usr/bin/env node
const { appendFileSync } = require('node:fs');
const args = process.argv.slice(2);
let stdin = '';
const finish = () => {
  appendFileSync(process.env.FAKE_WRANGLER_LOG, JSON.stringify({ args, stdin }) + '\\n');
  const command = args.slice(0, 2).join(' ');
  if (args[0] === 'whoami') {
    if (process.env.FAKE_LOGGED_IN === '0') { console.log('{"loggedIn":false}'); process.exit(1); }
    console.log(JSON.stringify({ loggedIn: true, email: 'dev@example.test', accounts: [] }));
  } else if (command === 'kv namespace') {
    console.log('🌀 Creating namespace with title "APP_TOKEN_CACHE"\\n✨ Success!\\n[[kv_namespaces]]\\nbinding = "APP_TOKEN_CACHE"\\nid = "${KV_ID}"');
  } else if (command === 'secret list') {
    const names = (process.env.FAKE_SECRETS || '').split(',').filter(Boolean);
    if (names.length === 0) { console.error('✘ [ERROR] Worker "twitch-token-broker" not found.'); process.exit(1); }
    console.log(JSON.stringify(names.map((name) => ({ name, type: 'secret_text' }))));
  } else if (command === 'secret bulk') {
    console.log('✨ ' + Object.keys(JSON.parse(stdin)).length + ' secrets successfully uploaded');
  } else if (args[0] === 'deploy') {
    // An environment's Worker has its own URL: here the fake Worker's origin plus /<env>.
    const env = args.includes('--env') ? args[args.indexOf('--env') + 1] : null;
    const url = process.env.FAKE_DEPLOY_URL + (env ? '/' + env : '');
    console.log('Uploaded twitch-token-broker\\nDeployed twitch-token-broker triggers\\n  ' + url + '\\n  schedule: 0 * * * *');
  } else {
    console.error('fake wrangler: unexpected ' + args.join(' ')); process.exit(9);
  }
};
if (args[0] === 'secret' && args[1] === 'bulk') {
  process.stdin.on('data', (chunk) => (stdin += chunk)).on('end', finish);
} else finish();
`;

interface WranglerCall {
  args: string[];
  stdin: string;
}

let project: string;
let log: string;
let bin: string;
let worker: Server;
let workerUrl: string;
let healthBody: unknown;
/** The path the fake deployed Worker answers /health on (an environment's Worker: /<env>/health). */
let healthPath: string;

function calls(): WranglerCall[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as WranglerCall);
}

function runSetup(args: string[], env: Record<string, string> = {}, answers?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/setup.ts', ...args], {
      cwd: project,
      stdio: [answers === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: {
        PATH: `${bin}${delimiter}${process.env.PATH}`,
        HOME: project,
        FAKE_WRANGLER_LOG: log,
        FAKE_DEPLOY_URL: workerUrl,
        ...env,
      },
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => resolve({ code, output }));
    if (answers !== undefined) child.stdin!.end(answers);
  });
}

beforeEach(async () => {
  project = mkdtempSync(join(tmpdir(), 'ttb-setup-'));
  for (const part of ['package.json', 'tsconfig.json', 'wrangler.toml', 'scripts']) cpSync(join(ROOT, part), join(project, part), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
  bin = join(project, 'fake-bin');
  mkdirSync(bin);
  // The project is an ES module package; the fake is plain CommonJS.
  writeFileSync(join(bin, 'package.json'), '{"type":"commonjs"}');
  writeFileSync(join(bin, 'wrangler'), FAKE_WRANGLER);
  chmodSync(join(bin, 'wrangler'), 0o755);
  log = join(project, 'wrangler-calls.jsonl');
  healthBody = { status: 'ok', configuration: 'complete', problems: [] };
  healthPath = '/health';
  // Stands in for https://twitch-token-broker.<account>.workers.dev (the fake deploy prints this URL).
  worker = createServer((request, response) => {
    const found = request.url === healthPath;
    response.writeHead(found ? 200 : 404, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(found ? healthBody : { error: 'not_found' }));
  });
  await new Promise<void>((resolve) => worker.listen(0, '127.0.0.1', resolve));
  workerUrl = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await new Promise((resolve) => worker.close(resolve));
  rmSync(project, { recursive: true, force: true });
});

const SECRET_NAMES = ['TWITCH_CLIENT_SECRET', 'SESSION_SECRET', 'TOKEN_ENCRYPTION_KEY', 'EVENTSUB_SECRET', 'API_KEYS'];
const SCRIPTED = ['--yes', '--client-id', CLIENT_ID, '--allowed-origins', 'https://app.example', '--default-scopes', 'user:read:email'];

describe('npm run setup (scripted, against a fake wrangler)', () => {
  it('creates the KV namespace, writes wrangler.toml, stores generated secrets through stdin, deploys and checks /health', async () => {
    const { code, output } = await runSetup([...SCRIPTED, '--public-url', 'https://auth.example.com', '--api-key-file', 'admin.key'], {
      TWITCH_CLIENT_SECRET: CLIENT_SECRET,
    });
    expect(output).toContain('ok. Try it');
    expect(code).toBe(0);

    expect(calls().map((call) => call.args.join(' '))).toEqual([
      'whoami --json',
      'secret list',
      'kv namespace create APP_TOKEN_CACHE',
      'secret bulk',
      'deploy',
    ]);
    const toml = readFileSync(join(project, 'wrangler.toml'), 'utf8');
    expect(toml).toContain(`binding = "APP_TOKEN_CACHE"\nid = "${KV_ID}"`);
    expect(toml).toContain(`TWITCH_CLIENT_ID = "${CLIENT_ID}"`);
    expect(toml).toContain('ALLOWED_ORIGINS = "https://app.example"');
    expect(toml).toContain('DEFAULT_SCOPES = "user:read:email"');
    expect(toml).toContain('PUBLIC_URL = "https://auth.example.com"');

    const stored = JSON.parse(calls().find((call) => call.args[1] === 'bulk')!.stdin) as Record<string, string>;
    expect(Object.keys(stored).sort()).toEqual([...SECRET_NAMES].sort());
    expect(stored.TWITCH_CLIENT_SECRET).toBe(CLIENT_SECRET);
    expect(stored.SESSION_SECRET!.length).toBeGreaterThanOrEqual(32);
    expect(Buffer.from(stored.TOKEN_ENCRYPTION_KEY!, 'base64')).toHaveLength(32);
    expect(stored.EVENTSUB_SECRET!.length).toBeGreaterThanOrEqual(10);
    expect(stored.EVENTSUB_SECRET!.length).toBeLessThanOrEqual(100);
    // The key handed to the operator is the one API_KEYS admits, with the admin scope.
    const adminKey = readFileSync(join(project, 'admin.key'), 'utf8').trim();
    expect(statSync(join(project, 'admin.key')).mode & 0o777).toBe(0o600);
    expect(stored.API_KEYS).toBe(`admin:admin:${createHash('sha256').update(adminKey).digest('hex')}`);

    // Secrets travel on stdin only: never in wrangler's arguments, never on screen.
    const secretValues = [
      ...Object.entries(stored)
        .filter(([name]) => name !== 'API_KEYS')
        .map(([, value]) => value),
      adminKey,
    ];
    for (const value of secretValues) {
      for (const call of calls()) expect(call.args.join(' ')).not.toContain(value);
      expect(output).not.toContain(value);
    }
    expect(output).toContain('add https://auth.example.com/callback to the OAuth Redirect URLs');
  });

  it('prints the workers.dev callback and the admin key once when there is no custom domain', async () => {
    const { code, output } = await runSetup(SCRIPTED, { TWITCH_CLIENT_SECRET: CLIENT_SECRET });
    expect(code).toBe(0);
    expect(output).toContain(`add ${workerUrl}/callback to the OAuth Redirect URLs`);
    const printedKey = output.match(/\n {2}(ttb_[\w-]+)\n/)?.[1];
    expect(printedKey).toBeDefined();
    const stored = JSON.parse(calls().find((call) => call.args[1] === 'bulk')!.stdin) as Record<string, string>;
    expect(stored.API_KEYS).toBe(`admin:admin:${createHash('sha256').update(printedKey!).digest('hex')}`);
  });

  it('run again on a deployed Worker, keeps every existing secret (the encryption key above all) and the KV namespace', async () => {
    expect((await runSetup(SCRIPTED, { TWITCH_CLIENT_SECRET: CLIENT_SECRET })).code).toBe(0);
    writeFileSync(log, '');
    const { code, output } = await runSetup(SCRIPTED, { FAKE_SECRETS: SECRET_NAMES.join(',') });
    expect(code).toBe(0);
    expect(calls().map((call) => call.args.join(' '))).toEqual(['whoami --json', 'secret list', 'deploy']);
    expect(output).toContain('TOKEN_ENCRYPTION_KEY already set: kept.');
    expect(output).not.toContain('admin API key');
  });

  it('asks for what flags and the environment did not give, with the Twitch console steps first', async () => {
    const answers = `${[CLIENT_ID, CLIENT_SECRET, 'https://app.example', 'user:read:email chat:read', ''].join('\n')}\n`;
    const { code, output } = await runSetup([], {}, answers);
    expect(code).toBe(0);
    expect(output.indexOf('Client Type: Confidential')).toBeLessThan(output.indexOf('Twitch Client ID:'));
    const toml = readFileSync(join(project, 'wrangler.toml'), 'utf8');
    expect(toml).toContain(`TWITCH_CLIENT_ID = "${CLIENT_ID}"`);
    expect(toml).toContain('DEFAULT_SCOPES = "user:read:email chat:read"');
    expect(toml).not.toContain('PUBLIC_URL');
    const stored = JSON.parse(calls().find((call) => call.args[1] === 'bulk')!.stdin) as Record<string, string>;
    expect(stored.TWITCH_CLIENT_SECRET).toBe(CLIENT_SECRET);
  });

  it('stops before touching anything when wrangler is not logged in, and says how to log in', async () => {
    const { code, output } = await runSetup(SCRIPTED, { TWITCH_CLIENT_SECRET: CLIENT_SECRET, FAKE_LOGGED_IN: '0' });
    expect(code).toBe(1);
    expect(output).toContain('npx wrangler login');
    expect(calls().map((call) => call.args[0])).toEqual(['whoami']);
    expect(readFileSync(join(project, 'wrangler.toml'), 'utf8')).toBe(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'));
  });

  it('names the missing setting in scripted mode instead of prompting', async () => {
    const { code, output } = await runSetup(['--yes'], { TWITCH_CLIENT_SECRET: CLIENT_SECRET });
    expect(code).toBe(1);
    expect(output).toContain('pass --client-id or set TWITCH_CLIENT_ID');
    const noSecret = await runSetup(SCRIPTED);
    expect(noSecret.code).toBe(1);
    expect(noSecret.output).toContain('set TWITCH_CLIENT_SECRET');
    expect(calls().some((call) => call.args[0] === 'deploy' || call.args[1] === 'bulk')).toBe(false);
  });

  it('fails with the setting names when the deployed Worker reports an incomplete configuration', async () => {
    healthBody = { status: 'ok', configuration: 'incomplete', problems: ['TWITCH_CLIENT_SECRET'] };
    const { code, output } = await runSetup(SCRIPTED, { TWITCH_CLIENT_SECRET: CLIENT_SECRET, SETUP_HEALTH_TIMEOUT_SECONDS: '1' });
    expect(code).toBe(1);
    expect(output).toContain('configuration is incomplete: TWITCH_CLIENT_SECRET');
  });

  it('with --env staging: adds [env.staging] (comments kept), writes its KV id and settings there, and stores secrets, deploys and checks health for that environment', async () => {
    healthPath = '/staging/health';
    const original = readFileSync(join(project, 'wrangler.toml'), 'utf8');
    const { code, output } = await runSetup([...SCRIPTED, '--env', 'staging'], { TWITCH_CLIENT_SECRET: CLIENT_SECRET });
    expect(output).toContain('ok. Try it');
    expect(code).toBe(0);

    expect(calls().map((call) => call.args.join(' '))).toEqual([
      'whoami --json',
      'secret list --env staging',
      'kv namespace create APP_TOKEN_CACHE --env staging',
      'secret bulk --env staging',
      'deploy --env staging',
    ]);
    const toml = readFileSync(join(project, 'wrangler.toml'), 'utf8');
    // Everything that was there stays, comments included; the environment is added below it.
    expect(toml.startsWith(original.replace(/\n*$/, '\n'))).toBe(true);
    const staging = toml.slice(toml.indexOf('[env.staging]'));
    expect(staging).toContain('name = "twitch-token-broker-staging"');
    expect(staging).toContain(`[env.staging.vars]`);
    expect(staging).toContain(`TWITCH_CLIENT_ID = "${CLIENT_ID}"`);
    expect(staging).toContain('ALLOWED_ORIGINS = "https://app.example"');
    expect(staging).toContain(`[[env.staging.kv_namespaces]]\nbinding = "APP_TOKEN_CACHE"\nid = "${KV_ID}"`);
    for (const className of ['UserVault', 'AppTokenMinter', 'OneTimeStore', 'UserDirectory', 'DeviceFlow', 'LoginRateLimiter']) {
      expect(staging).toContain(`class_name = "${className}"`);
    }
    // Its own login limiter: sharing the top level's namespace id would share its counters.
    const limiter = staging.match(
      /\[\[env\.staging\.ratelimits\]\]\nname = "LOGIN_RATE_LIMITER"\nsimple = \{ limit = 60, period = 60 \}\nnamespace_id = "(\d+)"/,
    );
    expect(limiter).not.toBeNull();
    expect(original).toMatch(/^namespace_id = "72846"$/m);
    expect(limiter![1]).not.toBe('72846');
    // The top level is untouched: production keeps its own settings and namespace.
    expect(toml.slice(0, toml.indexOf('\n\n# Environment "staging"'))).toBe(original.replace(/\n*$/, ''));

    const stored = JSON.parse(calls().find((call) => call.args[1] === 'bulk')!.stdin) as Record<string, string>;
    expect(Object.keys(stored).sort()).toEqual([...SECRET_NAMES].sort());
    expect(output).toContain(`add ${workerUrl}/staging/callback to the OAuth Redirect URLs`);
    expect(output).toContain(`Checking ${workerUrl}/staging/health`);
  });

  it('the [env.staging] it writes is one wrangler accepts: a dry-run deploy of that environment bundles with its bindings', async () => {
    cpSync(join(ROOT, 'src'), join(project, 'src'), { recursive: true });
    healthPath = '/staging/health';
    expect((await runSetup([...SCRIPTED, '--env', 'staging'], { TWITCH_CLIENT_SECRET: CLIENT_SECRET })).code).toBe(0);
    const dryRun = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--env', 'staging', '--outdir', 'dist-staging'],
        {
          cwd: project,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, HOME: project, CI: '1', WRANGLER_SEND_METRICS: 'false' },
        },
      );
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('close', (code) => resolve({ code, output }));
    });
    expect(dryRun.output).not.toMatch(/\[WARNING\]|\[ERROR\]/);
    expect(dryRun.code).toBe(0);
    expect(dryRun.output).toContain('env.USER_VAULT (UserVault)');
    expect(dryRun.output).toContain(`env.APP_TOKEN_CACHE (${KV_ID})`);
    expect(dryRun.output).toContain(`env.TWITCH_CLIENT_ID ("${CLIENT_ID}")`);
    expect(dryRun.output).toMatch(/env\.LOGIN_RATE_LIMITER \(60 requests\/60s\)\s+Rate Limit/);
  });

  it("with --env, run again, keeps that environment's secrets and section; --env production gets its own beside it", async () => {
    healthPath = '/staging/health';
    expect((await runSetup([...SCRIPTED, '--env', 'staging'], { TWITCH_CLIENT_SECRET: CLIENT_SECRET })).code).toBe(0);
    writeFileSync(log, '');
    const again = await runSetup([...SCRIPTED, '--env', 'staging'], { FAKE_SECRETS: SECRET_NAMES.join(',') });
    expect(again.code).toBe(0);
    expect(calls().map((call) => call.args.join(' '))).toEqual(['whoami --json', 'secret list --env staging', 'deploy --env staging']);
    const afterStaging = readFileSync(join(project, 'wrangler.toml'), 'utf8');
    expect(afterStaging.match(/^\[env\.staging\]$/gm)).toHaveLength(1);

    healthPath = '/production/health';
    writeFileSync(log, '');
    expect((await runSetup([...SCRIPTED, '--env', 'production'], { TWITCH_CLIENT_SECRET: CLIENT_SECRET })).code).toBe(0);
    expect(calls().map((call) => call.args.at(-1))).toEqual(['--json', 'production', 'production', 'production', 'production']);
    const toml = readFileSync(join(project, 'wrangler.toml'), 'utf8');
    expect(toml.startsWith(afterStaging)).toBe(true);
    expect(toml).toContain('[env.production]\nname = "twitch-token-broker-production"');
    expect(toml).toContain(`[[env.production.kv_namespaces]]\nbinding = "APP_TOKEN_CACHE"\nid = "${KV_ID}"`);
    const namespaceIds = [...toml.matchAll(/^namespace_id = "(\d+)"$/gm)].map((match) => match[1]);
    expect(namespaceIds).toHaveLength(3);
    expect(new Set(namespaceIds).size).toBe(3);
  });

  it('refuses an --env name wrangler would not take, before calling wrangler', async () => {
    const { code, output } = await runSetup([...SCRIPTED, '--env', 'my staging'], { TWITCH_CLIENT_SECRET: CLIENT_SECRET });
    expect(code).toBe(1);
    expect(output).toContain('--env my staging');
    expect(calls()).toEqual([]);
  });
});

describe("an environment's login rate limiter", () => {
  it("is copied from a limiter written with a [ratelimits.simple] table, as in Cloudflare's docs, with its own id", () => {
    const toml = 'name = "broker"\n\n[[ratelimits]]\nname = "LOGIN_RATE_LIMITER"\nnamespace_id = "1001"\n\n[ratelimits.simple]\nlimit = 100\nperiod = 60\n';
    const withStaging = withEnvSection(toml, 'staging');
    const copied = withStaging.match(
      /\[\[env\.staging\.ratelimits\]\]\nname = "LOGIN_RATE_LIMITER"\nsimple = \{ limit = 100, period = 60 \}\nnamespace_id = "(\d+)"/,
    );
    expect(copied).not.toBeNull();
    expect(copied![1]).not.toBe('1001');
  });
});

describe('a new rate-limiting namespace id', () => {
  it("is never one the file already uses, nor the docs' example every copied Worker shares", () => {
    const toml = 'namespace_id = "100000"\n[[env.a.ratelimits]]\nnamespace_id = "100001"\n';
    // The first two draws land on ids the file uses; the third is free.
    const draws = [0.5, 1.5, 2.5].map((n) => n / 900_000_000);
    const id = freshNamespaceId(toml, () => draws.shift()!);
    expect(id).toBe('100002');
    for (let draw = 0; draw < 100; draw++) expect(Number(freshNamespaceId(''))).toBeGreaterThanOrEqual(100_000);
  });
});
