/**
 * `npm run setup`: the first deployment in one command, asking what it needs, or scripted:
 *
 *   TWITCH_CLIENT_SECRET=… npm run setup -- --yes --client-id abc123 [--allowed-origins https://app.example]
 *     [--default-scopes "user:read:email"] [--public-url https://auth.example.com] [--api-key-file FILE]
 *     [--env staging]
 *
 * Every flag also reads the environment variable of the same setting (TWITCH_CLIENT_ID, ALLOWED_ORIGINS,
 * DEFAULT_SCOPES, PUBLIC_URL). The client secret comes from TWITCH_CLIENT_SECRET or a prompt, never from a
 * flag (flags end up in shell history and process lists).
 *
 * Steps: checks `wrangler whoami`; creates the APP_TOKEN_CACHE KV namespace and writes its id, the client id
 * and the other settings into wrangler.toml; generates SESSION_SECRET, TOKEN_ENCRYPTION_KEY, EVENTSUB_SECRET
 * and a first admin API key, and stores them with the client secret in one `wrangler secret bulk` (values
 * on stdin, never in arguments); deploys; prints the Twitch console steps with the real callback URL; checks
 * /health. Run again, it keeps every secret that already exists: a new TOKEN_ENCRYPTION_KEY would make every
 * stored token unreadable, a new SESSION_SECRET would end every session.
 *
 * `--env <name>` does the same for a wrangler environment (`[env.<name>]`, its own Worker named
 * `<name of the top level>-<name>`): the section is added to wrangler.toml if missing (the file's
 * comments stay), the KV namespace id and settings go into that section, and the secrets, the deploy
 * and the health check are that environment's.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { newApiKey } from './api-key';
import { parseCli } from './cli-args';
import { ENV_NAME, hasEnv, kvIdIn, TomlError, withEnvSection, withKvId, withVar, workerName } from './wrangler-toml';

const CONFIG = 'wrangler.toml';
const KV_BINDING = 'APP_TOKEN_CACHE';
// How long a fresh deployment gets to answer /health with a complete configuration.
const HEALTH_TIMEOUT_MS = Number(process.env.SETUP_HEALTH_TIMEOUT_SECONDS ?? 60) * 1000;
const LOCAL_WRANGLER = fileURLToPath(new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url));

/** A problem the person running setup can fix; printed without a stack trace. */
class SetupError extends Error {}

interface SetupInputs {
  yes: boolean;
  clientId?: string;
  allowedOrigins?: string;
  defaultScopes?: string;
  publicUrl?: string;
  apiKeyFile?: string;
  /** A wrangler environment (`[env.<name>]`); undefined: the top-level Worker. */
  env?: string;
}

const USAGE = `
Usage: npm run setup -- [--yes] [--client-id ID] [--allowed-origins LIST] [--default-scopes LIST]
                        [--public-url URL] [--api-key-file FILE] [--env NAME]

The first deployment in one command: checks wrangler's login, creates the APP_TOKEN_CACHE KV
namespace, writes the settings into wrangler.toml, generates and stores the secrets (keeping any
that exist), deploys, prints the Twitch console steps and checks /health. Without --yes it asks
for whatever the flags and environment do not give.

Options:
  -y, --yes                 ask nothing: fail on anything missing instead (for scripts, CI)
  --client-id ID            the Twitch app's Client ID (default: $TWITCH_CLIENT_ID, else asked)
  --allowed-origins LIST    comma-separated frontend origins (default: $ALLOWED_ORIGINS, else asked; empty: none)
  --default-scopes LIST     space-separated scopes for /authorize (default: $DEFAULT_SCOPES, else asked)
  --public-url URL          a custom domain, https://… (default: $PUBLIC_URL, else asked; empty: workers.dev)
  --api-key-file FILE       write the first admin API key there (mode 600) instead of printing it
  --env NAME                set up wrangler environment [env.NAME] (its own Worker) instead of the top level
  -h, --help                print this and exit

Environment:
  TWITCH_CLIENT_SECRET          the Twitch app's Client Secret (never a flag; else asked, hidden)
  TWITCH_CLIENT_ID, ALLOWED_ORIGINS, DEFAULT_SCOPES, PUBLIC_URL    as their flags
  SETUP_HEALTH_TIMEOUT_SECONDS  how long the new deployment gets to answer /health (default: 60)
  CLOUDFLARE_API_TOKEN          read by wrangler, instead of \`npx wrangler login\`

Exit code: 0 deployed and healthy; 1 a step failed (the message says which); 2 bad arguments.
`;

/** Reads the flags, falling back to the environment for settings. */
function readInputs(args: string[], env: NodeJS.ProcessEnv): SetupInputs {
  const { values } = parseCli(
    {
      script: 'setup',
      usage: USAGE,
      options: {
        yes: { type: 'boolean', short: 'y' },
        'client-id': { type: 'string' },
        'allowed-origins': { type: 'string' },
        'default-scopes': { type: 'string' },
        'public-url': { type: 'string' },
        'api-key-file': { type: 'string' },
        env: { type: 'string' },
      },
    },
    args,
  );
  const inputs: SetupInputs = {
    yes: values.yes === true,
    clientId: values['client-id'] ?? env.TWITCH_CLIENT_ID,
    allowedOrigins: values['allowed-origins'] ?? env.ALLOWED_ORIGINS,
    defaultScopes: values['default-scopes'] ?? env.DEFAULT_SCOPES,
    publicUrl: values['public-url'] ?? env.PUBLIC_URL,
    apiKeyFile: values['api-key-file'],
    env: values.env,
  };
  if (inputs.env !== undefined && !ENV_NAME.test(inputs.env))
    throw new SetupError(`--env ${inputs.env}: a wrangler environment name is letters, digits, - and _`);
  return inputs;
}

interface WranglerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `wrangler` from PATH (npm run puts the project's own first), or the project's copy if none is found. */
function wrangler(args: string[], input?: string): Promise<WranglerResult> {
  const run = (command: string, commandArgs: string[]) =>
    new Promise<WranglerResult>((resolve, reject) => {
      const child = spawn(command, commandArgs, {
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      if (input !== undefined) child.stdin!.end(input);
    });
  return run('wrangler', args).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
    return run(process.execPath, [LOCAL_WRANGLER, ...args]);
  });
}

function failed(step: string, result: WranglerResult): SetupError {
  return new SetupError(`${step} failed (wrangler exit code ${result.code}):\n${(result.stderr || result.stdout).trim()}`);
}

let pipedLines: AsyncIterator<string> | undefined;

/** Asks on the terminal; `hidden` answers are not echoed. Without a terminal (piped answers), takes the next line. */
async function ask(question: string, hidden = false): Promise<string> {
  if (!process.stdin.isTTY) {
    // Piped input may be read (and ended) before the first question: queue its lines instead of asking.
    pipedLines ??= createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
    process.stdout.write(`${question}\n`);
    const next = await pipedLines.next();
    return next.done === true ? '' : next.value.trim();
  }
  // On a terminal each question gets its own interface (typing only starts once it is asked). For a
  // secret, readline echoes into a stream that drops everything, and the terminal itself is in raw mode.
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  if (hidden) process.stdout.write(question);
  const prompter = createInterface({ input: process.stdin, output: hidden ? discard : process.stdout, terminal: true });
  try {
    const answer = await prompter.question(hidden ? '' : question);
    if (hidden) process.stdout.write('\n');
    return answer.trim();
  } finally {
    prompter.close();
  }
}

/** A value from flags or the environment; else asked for, unless `--yes` was given. */
async function settingValue(
  inputs: SetupInputs,
  given: string | undefined,
  question: string,
  missing: string,
  options: { optional?: boolean; hidden?: boolean } = {},
): Promise<string> {
  if (given !== undefined && given !== '') return given.trim();
  if (inputs.yes) {
    if (options.optional) return '';
    throw new SetupError(`missing ${missing}`);
  }
  const answer = await ask(question, options.hidden);
  if (answer === '' && !options.optional) throw new SetupError(`missing ${missing}`);
  return answer;
}

/** `--env <name>` for wrangler commands that act on one environment's Worker or resources. */
const envArgs = (env: string | undefined): string[] => (env === undefined ? [] : ['--env', env]);

/**
 * Creates the KV namespace (or finds the one a previous run created) and returns its id. Wrangler
 * titles it `APP_TOKEN_CACHE`, or `<env>-APP_TOKEN_CACHE` for an environment; wrangler 3 titled it
 * `<worker>-APP_TOKEN_CACHE`.
 */
async function createKvNamespace(env: string | undefined, worker: string): Promise<string> {
  const created = await wrangler(['kv', 'namespace', 'create', KV_BINDING, ...envArgs(env)]);
  const id = created.stdout.match(/"?id"?\s*[:=]\s*"([0-9a-f]{32})"/)?.[1];
  if (created.code === 0 && id !== undefined) return id;
  if (!/already exists/i.test(created.stdout + created.stderr)) throw failed('Creating the KV namespace', created);
  const listed = await wrangler(['kv', 'namespace', 'list']);
  if (listed.code !== 0) throw failed('Listing KV namespaces', listed);
  const namespaces = JSON.parse(listed.stdout.slice(listed.stdout.indexOf('['))) as { id: string; title: string }[];
  const titles = env === undefined ? [KV_BINDING, `${worker}-${KV_BINDING}`] : [`${env}-${KV_BINDING}`, `${worker}-${env}-${KV_BINDING}`];
  const existing = namespaces.find((namespace) => titles.includes(namespace.title));
  if (existing === undefined) throw failed('Finding the existing KV namespace', listed);
  return existing.id;
}

/** The names of the secrets the Worker has; none when it has not been deployed yet. */
async function existingSecrets(env: string | undefined): Promise<Set<string>> {
  const listed = await wrangler(['secret', 'list', ...envArgs(env)]);
  if (listed.code !== 0) {
    if (/not found/i.test(listed.stdout + listed.stderr)) return new Set();
    // Anything else (network, permissions) must stop us: guessing "none" would overwrite the encryption key.
    throw failed("Listing the Worker's secrets", listed);
  }
  const secrets = JSON.parse(listed.stdout.slice(listed.stdout.indexOf('['))) as { name: string }[];
  return new Set(secrets.map((secret) => secret.name));
}

async function waitForHealth(baseUrl: string): Promise<{ status: string; configuration?: string; problems?: string[] } | undefined> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last: { status: string; configuration?: string; problems?: string[] } | undefined;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(5000) });
      if (response.ok) {
        last = (await response.json()) as typeof last;
        if (last?.configuration === 'complete') return last;
      }
    } catch {
      // a fresh deployment can take a few seconds to answer
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return last;
}

const TWITCH_APP_STEPS = `In the Twitch developer console (https://dev.twitch.tv/console/apps):
  1. "Register Your Application" (or "Manage" an existing one), Client Type: Confidential.
  2. OAuth Redirect URLs: any for now (e.g. http://localhost:8787/callback); the real one follows below.
  3. Copy the Client ID; "New Secret" shows the Client Secret once.`;

async function main(): Promise<void> {
  const inputs = readInputs(process.argv.slice(2), process.env);

  console.log('Checking your Cloudflare login (wrangler whoami)…');
  const whoami = await wrangler(['whoami', '--json']);
  if (whoami.code !== 0 || !/"loggedIn":\s*true/.test(whoami.stdout)) {
    throw new SetupError('wrangler is not logged in: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then npm run setup again.');
  }
  const account = JSON.parse(whoami.stdout.slice(whoami.stdout.indexOf('{'))) as { email?: string };
  console.log(`  logged in${account.email ? ` as ${account.email}` : ''}.`);

  if (!inputs.yes) console.log(`\n${TWITCH_APP_STEPS}\n`);
  const clientId = await settingValue(inputs, inputs.clientId, 'Twitch Client ID: ', 'the Twitch client id: pass --client-id or set TWITCH_CLIENT_ID');
  if (!/^[A-Za-z0-9]{10,64}$/.test(clientId)) throw new SetupError('the Twitch client id should be letters and digits (30 of them, as the console shows it)');
  const env = inputs.env;
  const target = env === undefined ? 'the top-level Worker' : `environment "${env}"`;
  if (env !== undefined) console.log(`Setting up ${target} ([env.${env}] in ${CONFIG}).`);
  const secrets = await existingSecrets(env);
  const clientSecret = await settingValue(
    inputs,
    process.env.TWITCH_CLIENT_SECRET,
    'Twitch Client Secret (not shown): ',
    'the Twitch client secret: set TWITCH_CLIENT_SECRET',
    {
      hidden: true,
      optional: secrets.has('TWITCH_CLIENT_SECRET'),
    },
  );
  const allowedOrigins = await settingValue(
    inputs,
    inputs.allowedOrigins,
    'Frontend origins allowed to use the broker (comma-separated, empty for none): ',
    'ALLOWED_ORIGINS',
    { optional: true },
  );
  const defaultScopes = await settingValue(inputs, inputs.defaultScopes, 'Default Twitch scopes (space-separated, e.g. user:read:email): ', 'DEFAULT_SCOPES', {
    optional: true,
  });
  const publicUrl = await settingValue(
    inputs,
    inputs.publicUrl,
    'Custom domain, if any (e.g. https://auth.example.com; empty for workers.dev): ',
    'PUBLIC_URL',
    { optional: true },
  );
  if (publicUrl !== '' && !/^https:\/\/[^/?#]+$/.test(publicUrl))
    throw new SetupError('the public URL must be an https origin without a path, e.g. https://auth.example.com');

  let toml = readFileSync(CONFIG, 'utf8');
  if (env !== undefined && !hasEnv(toml, env)) {
    toml = withEnvSection(toml, env);
    console.log(`Added [env.${env}] to ${CONFIG}: its own Worker (${workerName(toml)}-${env}), KV namespace and Durable Objects.`);
  }
  const kvId = kvIdIn(toml, env ?? null, KV_BINDING);
  if (kvId === undefined) {
    console.log(`Creating the KV namespace ${KV_BINDING}${env === undefined ? '' : ` for ${env}`}…`);
    const id = await createKvNamespace(env, workerName(toml));
    toml = withKvId(toml, env ?? null, KV_BINDING, id);
    console.log(`  ${id}, written into ${CONFIG}.`);
  } else {
    console.log(`KV namespace ${KV_BINDING}: ${kvId} (already in ${CONFIG}).`);
  }
  const scope = env ?? null;
  toml = withVar(toml, scope, 'TWITCH_CLIENT_ID', clientId);
  if (allowedOrigins !== '' || inputs.allowedOrigins !== undefined) toml = withVar(toml, scope, 'ALLOWED_ORIGINS', allowedOrigins);
  if (defaultScopes !== '' || inputs.defaultScopes !== undefined) toml = withVar(toml, scope, 'DEFAULT_SCOPES', defaultScopes);
  if (publicUrl !== '') toml = withVar(toml, scope, 'PUBLIC_URL', publicUrl);
  writeFileSync(CONFIG, toml);
  console.log(`Settings written into ${CONFIG} [${env === undefined ? 'vars' : `env.${env}.vars`}]: commit it, it holds no secret.`);

  // Only what is missing is generated: existing keys protect stored tokens and live sessions.
  const upload: Record<string, string> = {};
  if (clientSecret !== '') upload.TWITCH_CLIENT_SECRET = clientSecret;
  if (!secrets.has('SESSION_SECRET')) upload.SESSION_SECRET = randomBytes(48).toString('base64url');
  if (!secrets.has('TOKEN_ENCRYPTION_KEY')) upload.TOKEN_ENCRYPTION_KEY = randomBytes(32).toString('base64');
  if (!secrets.has('EVENTSUB_SECRET')) upload.EVENTSUB_SECRET = randomBytes(32).toString('hex');
  const adminKey = secrets.has('API_KEYS') ? undefined : newApiKey('admin', 'admin');
  if (adminKey !== undefined) upload.API_KEYS = adminKey.entry;
  for (const name of ['SESSION_SECRET', 'TOKEN_ENCRYPTION_KEY', 'EVENTSUB_SECRET', 'API_KEYS']) {
    if (secrets.has(name)) console.log(`${name} already set: kept.`);
  }
  if (Object.keys(upload).length > 0) {
    console.log(`Storing ${Object.keys(upload).join(', ')} (wrangler secret bulk)…`);
    const stored = await wrangler(['secret', 'bulk', ...envArgs(env)], JSON.stringify(upload));
    if (stored.code !== 0) throw failed('Storing the secrets', stored);
  }

  console.log(`Deploying ${target} (wrangler deploy${env === undefined ? '' : ` --env ${env}`})…`);
  const deployed = await wrangler(['deploy', ...envArgs(env)]);
  if (deployed.code !== 0) throw failed('Deploying', deployed);
  // wrangler lists the Worker's URLs on indented lines under "Deployed … triggers" (workers.dev first).
  const deployedUrl = deployed.stdout.match(/^\s+(https?:\/\/\S+?)\/?\s*$/m)?.[1];
  const baseUrl = publicUrl !== '' ? publicUrl : deployedUrl;

  if (adminKey !== undefined) {
    if (inputs.apiKeyFile !== undefined) {
      writeFileSync(inputs.apiKeyFile, `${adminKey.key}\n`, { mode: 0o600 });
      console.log(`\nYour admin API key is in ${inputs.apiKeyFile} (it cannot be read back from Cloudflare).`);
    } else {
      console.log(`\nYour admin API key (shown once; Cloudflare cannot show it again):\n  ${adminKey.key}`);
    }
    console.log(`Keep the API_KEYS entry too, to add keys later (docs/operations.md, "Adding an API key later"):\n  ${adminKey.entry}`);
  }

  if (baseUrl === undefined) {
    console.log('\nDeployed, but no workers.dev URL was printed (workers_dev off?): pass --public-url, then register <url>/callback at Twitch.');
    return;
  }
  console.log(`\nLast step at Twitch (https://dev.twitch.tv/console/apps → Manage):\n  add ${baseUrl}/callback to the OAuth Redirect URLs and Save.`);
  // The workers.dev URL answers as soon as the deploy does; a new custom domain may need minutes for DNS.
  const checkUrl = deployedUrl ?? baseUrl;
  console.log(`\nChecking ${checkUrl}/health…`);
  const health = await waitForHealth(checkUrl);
  if (health?.configuration === 'complete') {
    console.log(`  ok. Try it: open ${baseUrl} and log in.`);
  } else {
    throw new SetupError(
      health === undefined
        ? `${checkUrl}/health did not answer within ${HEALTH_TIMEOUT_MS / 1000} s; try it in a minute.`
        : `${checkUrl}/health says the configuration is incomplete: ${(health.problems ?? []).join(', ')}`,
    );
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main()
    .finally(() => process.stdin.destroy())
    .catch((error: unknown) => {
      if (error instanceof SetupError || error instanceof TomlError) {
        console.error(`\nSetup stopped: ${error.message}`);
        process.exit(1);
      }
      throw error;
    });
}
