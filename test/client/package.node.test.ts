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
 * The package as a user gets it: `npm pack` (whose prepack builds dist/client), the tarball
 * installed into a fresh project next to @twurple, then imported by plain Node and type-checked
 * by a strict TypeScript consumer, against the real broker.
 */

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const repoPackage = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

let system: LocalSystem;
let project: string;
let packedFiles: string[];

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'ttb-consumer-'));
  const [packed, started] = await Promise.all([
    run('npm', ['pack', '--json', '--pack-destination', project], { cwd: REPO, maxBuffer: 10 * 1024 * 1024 }),
    startLocalSystem('package'),
  ]);
  system = started;
  // prepack's own output comes first on stdout; the JSON report is the last thing printed.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.lastIndexOf('\n[') + 1)) as { filename: string; files: { path: string }[] }[];
  packedFiles = report[0]!.files.map((file) => file.path);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const twurple = ['@twurple/auth', '@twurple/api'].map((name) => `${name}@${repoPackage.devDependencies[name]}`);
  await run('npm', ['install', `./${report[0]!.filename}`, ...twurple, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project });
  await logInAs(new Browser(), system, '100001', ['user:read:email']);
}, 240_000);

afterAll(async () => {
  await system?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the built client and nothing of the Worker, its tests or local secrets', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['dist/client/index.js', 'dist/client/index.d.ts', 'dist/client/twurple.js', 'dist/client/twurple.d.ts', 'package.json']));
    expect(packedFiles.filter((path) => !path.startsWith('dist/client/') && path !== 'package.json' && path !== 'README.md')).toEqual([]);
  });

  it('imports nothing at run time but its own files (no Node built-ins, no Worker code, no twurple)', () => {
    const installed = join(project, 'node_modules/twitch-token-broker/dist/client');
    for (const file of readdirSync(installed).filter((name) => name.endsWith('.js'))) {
      const source = readFileSync(join(installed, file), 'utf8');
      const specifiers = [...source.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)].map((match) => match[1]!);
      expect(specifiers.filter((specifier) => !specifier.startsWith('./')), file).toEqual([]);
      expect(source, file).not.toMatch(/\bprocess\.|\bBuffer\b|require\(/);
    }
  });

  it('works from plain Node: the client, the twurple provider with ApiClient, and the RPC error parser', async () => {
    writeFileSync(
      join(project, 'use.mjs'),
      `import { createBrokerClient, InsufficientScopeError, parseBrokerRpcError } from 'twitch-token-broker/client';
import { createBrokerAuthProvider } from 'twitch-token-broker/twurple';
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

  it('runs README\'s twurple bot (examples/twurple-bot.ts) against the broker and the stand-in\'s Helix', async () => {
    copyFileSync(join(REPO, 'examples/twurple-bot.ts'), join(project, 'twurple-bot.ts'));
    const { stdout } = await run(process.execPath, [join(REPO, 'node_modules/tsx/dist/cli.mjs'), 'twurple-bot.ts'], {
      cwd: project,
      env: { ...process.env, BROKER_URL: system.broker.url, BROKER_API_KEY: system.apiKey, TWURPLE_MOCK_API_PORT: new URL(system.twitch.url).port },
    });
    expect(stdout.trim().split('\n')).toEqual(['mod_bob has id 100002', 'the bot is streamer_alice <alice@example.test>']);
  });

  it('type-checks in a strict TypeScript consumer (NodeNext), with the documented body fields and twurple\'s AuthProvider', async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [], skipLibCheck: false }, files: ['consumer.ts'] }),
    );
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { createBrokerClient, InsufficientScopeError, ReauthorizationRequiredError, type UserTokenBody } from 'twitch-token-broker/client';
import { createBrokerAuthProvider } from 'twitch-token-broker/twurple';
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
`,
    );
    const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).catch((error: { stdout: string }) => error);
    expect(result.stdout).toBe('');
  });
});
