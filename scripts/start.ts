/**
 * `npm start`: runs the broker locally with `wrangler dev` (local KV and Durable Objects, state kept
 * in .wrangler/state). On first run it writes .dev.vars with fresh random keys. When the Twitch
 * base URL points at this machine (the default), it also starts the local Twitch stand-in there,
 * so the whole login flow can be clicked through without a Twitch account.
 *
 * Extra arguments go to wrangler: `npm start -- --port 9000 --var DEFAULT_SCOPES:chat:read`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { startTwitchStandinServer } from '../test/twitch-standin/server';
import { stopProcessGroup, WRANGLER } from '../test/e2e/dev-server';
import { newApiKey } from './api-key';

const DEV_VARS = '.dev.vars';
const EXAMPLE = '.dev.vars.example';
/** The local API key itself: configuration holds only its digest. Git-ignored. */
const DEV_API_KEY = '.dev.api-key';

/** Writes .dev.vars from the example, replacing each placeholder with a fresh random value. */
function createDevVars(): void {
  const apiKey = newApiKey('local', 'app+users+admin');
  writeFileSync(DEV_API_KEY, `${apiKey.key}\n`, { mode: 0o600 });
  const fresh: Record<string, string> = {
    SESSION_SECRET: randomBytes(48).toString('base64url'),
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    API_KEYS: apiKey.entry,
  };
  const text = readFileSync(EXAMPLE, 'utf8').replace(/^([A-Z_]+)=replace-with.*$/gm, (_line, name: string) => `${name}=${fresh[name] ?? ''}`);
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

/** The value of `--name value` or `--name=value` among wrangler's arguments, if given. */
function argValue(args: string[], name: string): string | undefined {
  const index = args.findIndex((arg) => arg === name || arg.startsWith(`${name}=`));
  if (index < 0) return undefined;
  return args[index]!.includes('=') ? args[index]!.split('=')[1] : args[index + 1];
}

async function main(): Promise<void> {
  if (!existsSync(DEV_VARS)) createDevVars();
  const vars = readDevVars();
  const wranglerArgs = process.argv.slice(2);
  const port = argValue(wranglerArgs, '--port') ?? '8787';

  const authBase = new URL(vars.TWITCH_AUTH_BASE_URL || 'https://id.twitch.tv');
  let standin: Awaited<ReturnType<typeof startTwitchStandinServer>> | null = null;
  if (['127.0.0.1', 'localhost', '[::1]'].includes(authBase.hostname)) {
    standin = await startTwitchStandinServer({ port: Number(authBase.port || 80), host: authBase.hostname.replace(/^\[(.*)\]$/, '$1') });
    console.log(`Local Twitch stand-in: ${standin.url} (not real Twitch; pick a test user on its consent page)`);
  } else {
    console.log(`Using Twitch at ${authBase.origin}`);
  }

  const wrangler = spawn(
    process.execPath,
    [WRANGLER, 'dev', '--port', port, '--test-scheduled', ...wranglerArgs.filter((arg, i, all) => arg !== '--port' && all[i - 1] !== '--port')],
    { stdio: 'inherit', detached: true },
  );
  console.log(`\nBroker: http://localhost:${port}  (open it and click "Log in with Twitch")\n`);
  // wrangler runs in its own process group: stopping it stops the workerd it started, too.
  const stop = async () => {
    await Promise.all([stopProcessGroup(wrangler), standin?.close()]);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  wrangler.on('exit', async (code) => {
    await standin?.close();
    process.exit(code ?? 0);
  });
}

await main();
