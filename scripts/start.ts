/**
 * `npm start`: runs the broker locally with `wrangler dev` (local KV and Durable Objects). On first run
 * it writes .dev.vars with fresh random keys. When the Twitch base URL points at this machine (the
 * default), it also starts the local Twitch stand-in there, so the whole login flow can be clicked
 * through without a Twitch account.
 *
 *   npm start -- --port 9000            the broker's port (default 8787; a busy default moves on)
 *   npm start -- --twitch-port 9001     the stand-in's port (default: the one in .dev.vars, 8789)
 *   npm start -- --persist-to DIR       where local state lives (default .wrangler/state)
 *
 * wrangler dev's other flags go to wrangler: `npm start -- --var DEFAULT_SCOPES:chat:read`.
 *
 * Local state: wrangler keeps the broker's grants in the state folder, and the stand-in keeps the tokens
 * it issued in `twitch-standin.json` in the same folder, so a restart leaves both in agreement. Broker
 * state without the stand-in's file (from an older run) is wiped, since its tokens are unknown here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTwitchStandinServer, type RunningStandinServer } from '../standin/server';
import { freePort, isPortFree, stopProcessGroup, WRANGLER } from '../test/e2e/dev-server';
import { newApiKey } from './api-key';
import { refuse, showUsage, wantsHelp } from './cli-args';
import { localDevVars } from './dev-vars';
import { parseStartArgs, StartUsageError, type StartOptions } from './start-options';

const DEV_VARS = '.dev.vars';
/** The local API key itself: configuration holds only its digest. Git-ignored. */
const DEV_API_KEY = '.dev.api-key';
const DEFAULT_BROKER_PORT = 8787;
const DEFAULT_STATE = join('.wrangler', 'state');
/** Marks a state folder as in use by a running `npm start` (holds its pid). */
const LOCK_FILE = 'npm-start.pid';
const STANDIN_STATE_FILE = 'twitch-standin.json';
const LOCAL_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

const USAGE = `
Usage: npm start -- [--port N] [--twitch-port N] [--persist-to DIR] [wrangler dev flags…]

Runs the broker locally with wrangler dev (local KV and Durable Objects). The first run writes
.dev.vars with fresh random keys and the local API key to .dev.api-key. When TWITCH_AUTH_BASE_URL
in .dev.vars points at this machine (the default), it also starts the local Twitch stand-in there.

Options:
  --port N          the broker's port (default: ${DEFAULT_BROKER_PORT}; if busy, any free one)
  --twitch-port N   the Twitch stand-in's port (default: the one in .dev.vars, 8789; if busy, any free one)
  --persist-to DIR  where local state lives (default: ${DEFAULT_STATE}; another running npm start's
                    folder is not shared: this one then uses .wrangler/state-<port>)
  -h, --help        print this and exit
  Other wrangler dev flags pass through, e.g. --var DEFAULT_SCOPES:chat:read (see npx wrangler dev --help).

Environment: none of its own; settings come from .dev.vars (and --var), as for wrangler dev.
Exit code: 0 stopped with Ctrl-C; wrangler's exit code if wrangler dev stops by itself; 2 bad
arguments, or a port or state folder asked for is in use.
`;

/** Writes .dev.vars for the local stand-in, with fresh random keys (see scripts/dev-vars.ts). */
function createDevVars(): void {
  const apiKey = newApiKey('local', 'app+users+admin');
  writeFileSync(DEV_API_KEY, `${apiKey.key}\n`, { mode: 0o600 });
  const text = localDevVars({
    sessionSecret: randomBytes(48).toString('base64url'),
    tokenEncryptionKey: randomBytes(32).toString('base64'),
    apiKeys: apiKey.entry,
  });
  writeFileSync(DEV_VARS, text, { mode: 0o600 });
  console.log(`Created ${DEV_VARS} with fresh local keys. Your local API key is in ${DEV_API_KEY}.`);
}

/** Reads KEY=VALUE lines. */
function readDevVars(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(DEV_VARS, 'utf8').split('\n')) {
    const match = line.match(/^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/);
    if (match) vars[match[1]!] = match[2]!.replace(/^"(.*)"$/, '$1');
  }
  return vars;
}

/** The broker's port: the one asked for (which must be free), else 8787, else any free one. */
async function chooseBrokerPort(asked: number | undefined): Promise<number> {
  if (asked !== undefined) {
    if (await isPortFree(asked)) return asked;
    throw new StartUsageError(`Port ${asked} is already in use (another npm start?). Pick another: npm start -- --port <free port>`);
  }
  if (await isPortFree(DEFAULT_BROKER_PORT)) return DEFAULT_BROKER_PORT;
  const port = await freePort();
  console.log(`Port ${DEFAULT_BROKER_PORT} is in use (another npm start?); the broker takes ${port}. Choose with npm start -- --port <port>.`);
  return port;
}

/** The stand-in's port: the one asked for (which must be free), else the one .dev.vars names, else any free one. */
async function chooseStandinPort(asked: number | undefined, configured: number, host: string): Promise<number> {
  if (asked !== undefined) {
    if (await isPortFree(asked, host)) return asked;
    throw new StartUsageError(`Port ${asked} is already in use. Pick another for the Twitch stand-in: npm start -- --twitch-port <free port>`);
  }
  if (await isPortFree(configured, host)) return configured;
  const port = await freePort();
  console.log(
    `Port ${configured} (the Twitch stand-in's, from ${DEV_VARS}) is in use; the stand-in takes ${port} for this run. Choose with npm start -- --twitch-port <port>.`,
  );
  return port;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a running `npm start` that holds `folder`, if any. */
function lockHolder(folder: string): number | undefined {
  const lock = join(folder, LOCK_FILE);
  if (!existsSync(lock)) return undefined;
  const pid = Number(readFileSync(lock, 'utf8').trim());
  return Number.isInteger(pid) && pid !== process.pid && isAlive(pid) ? pid : undefined;
}

/**
 * The state folder: the one asked for, else .wrangler/state, unless another `npm start` is using it; then a
 * folder of this port's own, since two runtimes must not share one set of storage files.
 */
function chooseStateFolder(options: StartOptions, brokerPort: number): string {
  const folder = options.persistTo ?? DEFAULT_STATE;
  const holder = lockHolder(folder);
  if (holder === undefined) return folder;
  if (options.persistTo !== undefined) {
    throw new StartUsageError(`${folder} is in use by another npm start (pid ${holder}). Pick another: npm start -- --persist-to <folder>`);
  }
  const own = join('.wrangler', `state-${brokerPort}`);
  console.log(`Another npm start (pid ${holder}) uses ${folder}; this one keeps its state in ${own}.`);
  return own;
}

async function main(): Promise<void> {
  if (wantsHelp(process.argv.slice(2))) showUsage(USAGE);
  const options = parseStartArgs(process.argv.slice(2));
  if (!existsSync(DEV_VARS)) createDevVars();
  const vars = readDevVars();
  const brokerPort = await chooseBrokerPort(options.brokerPort);
  const stateFolder = chooseStateFolder(options, brokerPort);
  const wranglerArgs = ['dev', '--port', String(brokerPort), '--persist-to', stateFolder, '--test-scheduled', ...options.wranglerArgs];

  const authBase = new URL(vars.TWITCH_AUTH_BASE_URL || 'https://id.twitch.tv');
  let standin: RunningStandinServer | null = null;
  if (LOCAL_HOSTS.includes(authBase.hostname)) {
    const host = authBase.hostname.replace(/^\[(.*)\]$/, '$1');
    const standinPort = await chooseStandinPort(options.twitchPort, Number(authBase.port || 80), host);
    const standinStateFile = join(stateFolder, STANDIN_STATE_FILE);
    const brokerState = join(stateFolder, 'v3');
    if (!existsSync(standinStateFile) && existsSync(brokerState)) {
      // Grants whose tokens the stand-in never saved would be served although the stand-in calls them invalid.
      rmSync(brokerState, { recursive: true, force: true });
      console.log(`Cleared the broker's local state in ${stateFolder}: the stand-in had not saved the tokens it holds. Log in again.`);
    }
    standin = await startTwitchStandinServer({ port: standinPort, host, stateFile: standinStateFile });
    if (standinPort !== Number(authBase.port || 80)) {
      // Point this run's broker at the moved stand-in; .dev.vars stays as it is.
      wranglerArgs.push('--var', `TWITCH_AUTH_BASE_URL:${standin.url}`);
      if (new URL(vars.TWITCH_API_BASE_URL || authBase.origin).origin === authBase.origin) wranglerArgs.push('--var', `TWITCH_API_BASE_URL:${standin.url}`);
    }
    console.log(`Local Twitch stand-in: ${standin.url} (not real Twitch; pick or type a test user on its consent page)`);
  } else {
    console.log(`Using Twitch at ${authBase.origin}`);
  }
  mkdirSync(stateFolder, { recursive: true });
  writeFileSync(join(stateFolder, LOCK_FILE), `${process.pid}\n`);

  // wrangler runs in its own process group: stopping it stops the workerd it started, too. Its stdin is
  // not the terminal, so Ctrl-C reaches only us and we stop everything in order.
  const wrangler: ChildProcess = spawn(process.execPath, [WRANGLER, ...wranglerArgs], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });

  let stopping = false;
  const stop = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all([stopProcessGroup(wrangler), standin?.close()]);
    rmSync(join(stateFolder, LOCK_FILE), { force: true });
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  wrangler.on('exit', (code) => {
    if (!stopping) console.error(`\nwrangler dev stopped (exit code ${code ?? 'none'}); the broker is not running.`);
    void stop(code ?? 1);
  });

  // Announce the URL only once the broker answers, after wrangler's own banner, and never if it failed.
  const brokerUrl = `http://localhost:${brokerPort}`;
  while (!stopping) {
    try {
      const health = await fetch(`http://127.0.0.1:${brokerPort}/health`, { signal: AbortSignal.timeout(2000) });
      if (health.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  if (stopping) return;
  console.log(`\n  Broker ready: ${brokerUrl}  (open it and click "Log in with Twitch")`);
  if (existsSync(DEV_API_KEY)) console.log(`  Local API key: ${DEV_API_KEY}   curl -H "Authorization: Bearer $(cat ${DEV_API_KEY})" ${brokerUrl}/token/app`);
  const examples = exampleCommands(brokerUrl, standin?.url ?? null);
  if (examples.length > 0) console.log(`  Not the README's ports; the examples on these:\n${examples.map((line) => `    ${line}`).join('\n')}`);
  console.log('  Stop with Ctrl-C.\n');
}

/** The README's example commands for this run's ports, or none when they are the README's own (8787, 8789). */
function exampleCommands(brokerUrl: string, standinUrl: string | null): string[] {
  const standinPort = standinUrl === null ? null : new URL(standinUrl).port;
  if (brokerUrl === `http://localhost:${DEFAULT_BROKER_PORT}` && (standinPort === null || standinPort === '8789')) return [];
  const key = `BROKER_URL=${brokerUrl} BROKER_API_KEY=$(cat ${DEV_API_KEY})`;
  const helix = standinUrl === null ? 'https://api.twitch.tv/helix' : `${standinUrl}/helix`;
  return [
    `${key}${standinPort === null ? '' : ` TWURPLE_MOCK_API_PORT=${standinPort}`} npx tsx examples/twurple-bot.ts`,
    `${key} HELIX_URL=${helix} npx tsx examples/eventsub-subscribe.ts`,
    `the overlay: examples/overlay/index.html?${new URLSearchParams({ broker: brokerUrl, helix })}`,
  ];
}

main().catch((error: unknown) => {
  if (error instanceof StartUsageError) refuse('start', error.message);
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
