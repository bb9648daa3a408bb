import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logInAs } from '../e2e/log-in';
import { Browser, startLocalSystem, type LocalSystem } from '../e2e/local-system';

/**
 * The client package as a user gets it: `npm pack` in client/ (whose prepack builds client/dist),
 * the tarball installed into a fresh project, first alone (it must bring no other package), then
 * next to @twurple, imported by plain Node and type-checked by a strict TypeScript consumer,
 * against the real broker.
 */

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLIENT = join(REPO, 'client');
const PACKAGE = 'twitch-token-broker-client';
const repoPackage = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const install = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'];

let system: LocalSystem;
let project: string;
let packedFiles: string[];
/** The consumer's lockfile entries after installing the tarball alone. */
let installedAlone: string[];
/** The packages `npm ls --all` finds installed after installing the tarball alone. */
let listedAlone: string[];

/** An `npm ls --json` node: a missing optional peer is listed too, without a version. */
interface ListedPackage {
  version?: string;
  dependencies?: Record<string, ListedPackage>;
}

/** The installed packages (those with a version) anywhere in an `npm ls --all --json` tree. */
const installedIn = (node: ListedPackage): string[] =>
  Object.entries(node.dependencies ?? {}).flatMap(([name, child]) => [...(child.version ? [name] : []), ...installedIn(child)]);

/** The paths of the packages in a project's package-lock.json ("" is the project itself). */
const lockedPackages = (dir: string): string[] =>
  Object.keys((JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> }).packages);

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'ttb-consumer-'));
  const [packed, started] = await Promise.all([
    run('npm', ['pack', '--json', '--pack-destination', project], { cwd: CLIENT, maxBuffer: 10 * 1024 * 1024 }),
    startLocalSystem('package'),
  ]);
  system = started;
  // prepack's own output comes first on stdout; the JSON report is the last thing printed.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.lastIndexOf('\n[') + 1)) as { filename: string; files: { path: string }[] }[];
  packedFiles = report[0]!.files.map((file) => file.path);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', `./${report[0]!.filename}`, ...install], { cwd: project });
  installedAlone = lockedPackages(project);
  listedAlone = installedIn(JSON.parse((await run('npm', ['ls', '--all', '--json'], { cwd: project })).stdout) as ListedPackage);
  const twurple = ['@twurple/auth', '@twurple/api'].map((name) => `${name}@${repoPackage.devDependencies[name]}`);
  await run('npm', ['install', ...twurple, ...install], { cwd: project });
  await logInAs(new Browser(), system, '100001', ['user:read:email']);
}, 240_000);

afterAll(async () => {
  await system?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the built client, its README and CHANGELOG, and nothing of the Worker, its tests or local secrets', () => {
    expect(packedFiles).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/twurple.js', 'dist/twurple.d.ts', 'README.md', 'CHANGELOG.md', 'package.json']),
    );
    expect(packedFiles.filter((path) => !/^dist\/[a-z-]+\.(js|d\.ts)$/.test(path) && !['package.json', 'README.md', 'CHANGELOG.md'].includes(path))).toEqual(
      [],
    );
  });

  it('installs no other package: no dependencies, and the optional @twurple/auth peer left out', () => {
    expect(installedAlone.sort()).toEqual(['', `node_modules/${PACKAGE}`]);
    expect(listedAlone).toEqual([PACKAGE]);
  });

  it("has a manifest of its own: exports . and ./twurple, @twurple/auth an optional peer, none of the Worker's fields", () => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules', PACKAGE, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      name: PACKAGE,
      version: expect.stringMatching(/^0\.\d+\.\d+$/),
      type: 'module',
      sideEffects: false,
      exports: {
        '.': { types: './dist/index.d.ts', default: './dist/index.js' },
        './twurple': { types: './dist/twurple.d.ts', default: './dist/twurple.js' },
      },
      peerDependencies: { '@twurple/auth': '^8.0.0' },
      peerDependenciesMeta: { '@twurple/auth': { optional: true } },
    });
    for (const field of ['dependencies', 'optionalDependencies', 'bundleDependencies', 'overrides', 'cloudflare', 'private'])
      expect(manifest, field).not.toHaveProperty(field);
    // Built with the repo's TypeScript: the version it declares is the one the repo installs.
    expect(manifest.devDependencies).toEqual({ typescript: repoPackage.devDependencies.typescript });
  });

  it('passes `npm publish --dry-run` without a warning about the package', async () => {
    // Offline and without scripts: the tarball above was built already, and nothing goes to the registry.
    const { stderr } = await run('npm', ['publish', '--dry-run', '--offline', '--ignore-scripts'], { cwd: CLIENT });
    const warnings = stderr.split('\n').filter((line) => /^npm (warn|error)/i.test(line) && !/requires you to be logged in/.test(line));
    expect(warnings).toEqual([]);
  });

  it('imports nothing at run time but its own files (no Node built-ins, no Worker code, no twurple)', () => {
    const installed = join(project, 'node_modules', PACKAGE, 'dist');
    for (const file of readdirSync(installed).filter((name) => name.endsWith('.js'))) {
      const source = readFileSync(join(installed, file), 'utf8');
      const specifiers = [...source.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)].map((match) => match[1]!);
      expect(
        specifiers.filter((specifier) => !specifier.startsWith('./')),
        file,
      ).toEqual([]);
      expect(source, file).not.toMatch(/\bprocess\.|\bBuffer\b|require\(/);
    }
  });

  it('works from plain Node: the client, the twurple provider with ApiClient, and the RPC error parser', async () => {
    writeFileSync(
      join(project, 'use.mjs'),
      `import { createBrokerClient, InsufficientScopeError, parseBrokerRpcError } from 'twitch-token-broker-client';
import { createBrokerAuthProvider } from 'twitch-token-broker-client/twurple';
import { ApiClient } from '@twurple/api';
const baseUrl = process.env.BROKER_URL, apiKey = process.env.BROKER_API_KEY;
const client = createBrokerClient({ baseUrl, apiKey });
const app = await client.getAppToken();
const user = await client.getUserToken('100001');
const scopeError = await client.getUserToken('100001', { scope: 'bits:read' }).catch((error) => error);
const provider = await createBrokerAuthProvider({ baseUrl, apiKey });
const helixUser = await new ApiClient({ authProvider: provider }).users.getUserById('100002');
const rpcError = parseBrokerRpcError(new Error(JSON.stringify({ status: 404, error: 'not_found', error_description: 'no grant is stored for this user' })));
console.log(JSON.stringify({
  appKeys: Object.keys(app).sort(), userLogin: user.login, sameClient: app.client_id === provider.clientId,
  scopeError: scopeError instanceof InsufficientScopeError && scopeError.missingScopes, helixUser: helixUser?.name, rpcError: rpcError?.code,
}));
`,
    );
    const { stdout } = await run(process.execPath, ['use.mjs'], {
      cwd: project,
      env: { ...process.env, BROKER_URL: system.broker.url, BROKER_API_KEY: system.apiKey, TWURPLE_MOCK_API_PORT: new URL(system.twitch.url).port },
    });
    expect(JSON.parse(stdout)).toEqual({
      appKeys: ['access_token', 'client_id', 'expires_at', 'expires_in', 'token_type'],
      userLogin: 'streamer_alice',
      sameClient: true,
      scopeError: ['bits:read'],
      helixUser: 'mod_bob',
      rpcError: 'not_found',
    });
  });

  it("runs README's twurple bot (examples/twurple-bot.ts) against the broker and the stand-in's Helix", async () => {
    copyFileSync(join(REPO, 'examples/twurple-bot.ts'), join(project, 'twurple-bot.ts'));
    const { stdout } = await run(process.execPath, [join(REPO, 'node_modules/tsx/dist/cli.mjs'), 'twurple-bot.ts'], {
      cwd: project,
      env: { ...process.env, BROKER_URL: system.broker.url, BROKER_API_KEY: system.apiKey, TWURPLE_MOCK_API_PORT: new URL(system.twitch.url).port },
    });
    expect(stdout.trim().split('\n')).toEqual(['mod_bob has id 100002', 'the bot is streamer_alice <alice@example.test>']);
  });

  it("runs README's EventSub example (examples/eventsub-subscribe.ts): subscribes at Helix with the broker's app token", async () => {
    copyFileSync(join(REPO, 'examples/eventsub-subscribe.ts'), join(project, 'eventsub-subscribe.ts'));
    const { stdout } = await run(process.execPath, [join(REPO, 'node_modules/tsx/dist/cli.mjs'), 'eventsub-subscribe.ts'], {
      cwd: project,
      // The stand-in sends its verification to the callback: a local one, so nothing leaves the machine.
      env: {
        ...process.env,
        BROKER_URL: system.broker.url,
        BROKER_API_KEY: system.apiKey,
        HELIX_URL: `${system.twitch.url}/helix`,
        CALLBACK_URL: `${system.broker.url}/eventsub`,
      },
    });
    expect(stdout.trim().split('\n')).toEqual(['subscribe: 202', 'subscriptions: 1']);
  });

  it("type-checks in a strict TypeScript consumer (NodeNext), with the documented body fields, twurple's AuthProvider and the RPC binding type", async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types: [],
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { createBrokerClient, InsufficientScopeError, ReauthorizationRequiredError, type TokenBrokerRpc, type UserTokenBody } from 'twitch-token-broker-client';
import { createBrokerAuthProvider } from 'twitch-token-broker-client/twurple';
import type { AuthProvider } from '@twurple/auth';
const client = createBrokerClient({ baseUrl: 'http://localhost:8787', apiKey: 'key' });
export async function use(): Promise<string> {
  const token: UserTokenBody = await client.getUserToken('100001', { scope: ['chat:read'], forceRefresh: true });
  const seconds: number = token.expires_at - token.obtained_at + (await client.getAppToken()).expires_in;
  // @ts-expect-error the body is the route's JSON, not a renamed copy
  token.accessToken;
  const provider: AuthProvider = await createBrokerAuthProvider({ baseUrl: 'http://localhost:8787', apiKey: 'key', intents: { chat: '100001' } });
  try { await client.getToken(); } catch (error) {
    if (error instanceof InsufficientScopeError) return error.authorizeUrl + error.missingScopes.join();
    if (error instanceof ReauthorizationRequiredError) return error.authorizeUrl;
  }
  return provider.clientId + seconds;
}
// A Worker's service binding to the broker's TokenBroker entrypoint.
export async function overRpc(env: { BROKER: TokenBrokerRpc }): Promise<string> {
  const token: UserTokenBody = await env.BROKER.getUserToken('100001', { scope: 'chat:read', forceRefresh: false });
  return token.login + (await env.BROKER.getAppToken({ forceRefresh: true })).client_id;
}
`,
    );
    const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).catch((error: { stdout: string }) => error);
    expect(result.stdout).toBe('');
  });
});
