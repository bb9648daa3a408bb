import { createHash, timingSafeEqual as nodeTimingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCli } from '../scripts/cli-args';
import { build } from 'esbuild';
import { COPIES_PER_LANE, OWN_CHECKS_PER_BATCH } from '../src/sweep/schedule';
import { announceSmoke, SMOKE } from './smoke';

/**
 * CPU cost per request of the two token paths, step by step and whole, in Node on the Worker's
 * own code; plus a check that evaluating the Worker's modules does no I/O and derives no key.
 *
 *   npx tsx bench/micro.ts
 *
 * Node's WebCrypto dispatches each digest/HMAC/AES call to its thread pool, which workerd does
 * not, so crypto steps look somewhat dearer here than in production: compare the steps with each
 * other, not with a Worker's CPU limit. Every loop is bounded in iterations and in time.
 */

/** Bindings as the Worker sees them; typed loosely here, since bench/ is compiled without the Workers types. */
type Env = Record<string, unknown>;
type FetchHandler = (request: Request, env: Env, ctx: unknown) => Promise<Response>;

/** What the micro-benchmark bundle exports: the Worker itself and the pieces of its two token paths. */
interface WorkerModule {
  default: { fetch: FetchHandler };
  getConfig(env: Env): { tokenKeys: readonly Uint8Array[]; apiKeys: readonly { digest: Uint8Array }[] };
  seal(plaintext: string, purpose: string, rawKeys: readonly Uint8Array[]): Promise<string>;
  unseal(sealed: string, purpose: string, rawKeys: readonly Uint8Array[]): Promise<string>;
  signSession(secret: string, userId: string, sessionVersion: number): Promise<{ token: string }>;
  verifySession(secret: string, token: string): Promise<unknown>;
  utf8(text: string): Uint8Array<ArrayBuffer>;
  checkCopies(config: unknown, copies: readonly { userId: string; sealedAccessToken: string }[]): Promise<{ outcome: string }[]>;
}

/** The bundle's entry: src/index.ts as deployed, plus the functions measured step by step. */
const ENTRY = `
export { default } from './src/index.ts';
export { getConfig } from './src/config.ts';
export { utf8 } from './src/crypto/encoding.ts';
export { seal, unseal } from './src/crypto/seal.ts';
export { signSession, verifySession } from './src/session/session-token.ts';
export { checkCopies } from './src/sweep/copy-check.ts';
`;

// workerd extends WebCrypto with a constant-time comparison; Node has it in node:crypto.
const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView) => boolean };
const asBytes = (view: ArrayBuffer | ArrayBufferView) =>
  view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
subtle.timingSafeEqual ??= (a, b) => nodeTimingSafeEqual(asBytes(a), asBytes(b));

const API_KEY = 'bench-api-key-0123456789abcdef';
const SESSION_SECRET = 'bench-session-secret-0123456789abcdef-0123456789';
const env = {
  TWITCH_CLIENT_ID: 'standin-client-id',
  TWITCH_CLIENT_SECRET: 'standin-client-secret',
  TWITCH_AUTH_BASE_URL: 'http://127.0.0.1:9',
  TWITCH_API_BASE_URL: 'http://127.0.0.1:9',
  SESSION_SECRET,
  TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  API_KEYS: `bench:app+users+admin:${createHash('sha256').update(API_KEY).digest('hex')}`,
  ALLOWED_ORIGINS: 'http://localhost:5173',
  DEFAULT_SCOPES: 'user:read:email',
};

interface Measurement {
  step: string;
  /** Median over batches of wall time per operation. */
  microsecondsPerOp: number;
  /** Median over batches of process CPU (all threads, so Node's crypto thread pool too) per operation. */
  cpuMicrosecondsPerOp: number;
  iterations: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Warm-up runs, batches, and each batch's bounds; a smoke run (BENCH_SMOKE=1) does a few of each. */
const LOOP = SMOKE ? { warmUp: 5, batches: 1, iterations: 10, ms: 50 } : { warmUp: 200, batches: 5, iterations: 4_000, ms: 300 };

/**
 * Runs `operation` sequentially in 5 batches, each bounded to 4,000 iterations and 300 ms, after a
 * short warm-up, and reports the median batch: a burst of noise from other processes moves one
 * batch, not the figure.
 */
async function measure(step: string, operation: () => unknown): Promise<Measurement> {
  for (let i = 0; i < LOOP.warmUp; i++) await operation();
  const wall: number[] = [];
  const cpu: number[] = [];
  let iterations = 0;
  for (let batch = 0; batch < LOOP.batches; batch++) {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    let count = 0;
    while (count < LOOP.iterations && performance.now() - started < LOOP.ms) {
      await operation();
      count++;
    }
    const used = process.cpuUsage(cpuStarted);
    wall.push(((performance.now() - started) * 1000) / count);
    cpu.push((used.user + used.system) / count);
    iterations += count;
  }
  return { step, microsecondsPerOp: median(wall), cpuMicrosecondsPerOp: median(cpu), iterations };
}

/** Bundles the Worker as wrangler would (with `cloudflare:workers` stubbed) so it can run in Node. */
async function bundleWorker(outdir: string): Promise<string> {
  const outfile = join(outdir, 'worker.mjs');
  await build({
    stdin: { contents: ENTRY, resolveDir: process.cwd(), sourcefile: 'micro-entry.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    alias: { 'cloudflare:workers': './bench/stubs/cloudflare-workers.ts' },
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

/** Imports the Worker bundle while counting WebCrypto and fetch calls: start-up must make none. */
async function importWorkerCountingIo(file: string) {
  const calls: string[] = [];
  const restore: (() => void)[] = [];
  const watch = <T extends object>(target: T, name: keyof T & string, label: string) => {
    const original = target[name];
    if (typeof original !== 'function') return;
    (target as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      calls.push(label);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    restore.push(() => ((target as Record<string, unknown>)[name] = original));
  };
  for (const name of ['digest', 'importKey', 'deriveKey', 'deriveBits', 'sign', 'verify', 'encrypt', 'decrypt', 'generateKey'] as const) {
    watch(crypto.subtle, name, `crypto.subtle.${name}`);
  }
  watch(crypto, 'getRandomValues', 'crypto.getRandomValues');
  watch(globalThis, 'fetch', 'fetch');
  const started = performance.now();
  const worker = (await import(pathToFileURL(file).href)) as WorkerModule;
  const evaluationMs = performance.now() - started;
  for (const undo of restore) undo();
  return { worker, calls, evaluationMs };
}

async function main(): Promise<void> {
  announceSmoke();
  const outdir = mkdtempSync(join(tmpdir(), 'ttb-micro-'));
  try {
    await measureAll(await bundleWorker(outdir));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

async function measureAll(file: string): Promise<void> {
  // First, before anything runs: evaluating the Worker's modules must do no I/O and no crypto.
  const { worker, calls, evaluationMs } = await importWorkerCountingIo(file);
  const { getConfig, seal, unseal, signSession, verifySession, utf8, checkCopies } = worker;
  const config = getConfig(env);

  // The pieces the two token paths are made of.
  const { token: sessionToken } = await signSession(SESSION_SECRET, '100001', 1);
  const sealed = await seal('a'.repeat(30), 'app:access', config.tokenKeys);
  const presented = API_KEY;
  const steps: Measurement[] = [];
  steps.push(
    await measure('API key: SHA-256 + timingSafeEqual (1 entry)', async () => {
      const digest = await crypto.subtle.digest('SHA-256', utf8(presented));
      for (const entry of config.apiKeys) subtle.timingSafeEqual!(digest, entry.digest);
    }),
  );
  steps.push(await measure('session: verifySession (jose jwtVerify HS256)', () => verifySession(SESSION_SECRET, sessionToken)));
  steps.push(await measure('unseal: JWE dir/A256GCM (jose compactDecrypt)', () => unseal(sealed, 'app:access', config.tokenKeys)));
  steps.push(await measure('config: getConfig on a new env (uncached)', () => getConfig({ ...env })));

  // The sweep's own CPU per invocation (Free allows 10 ms): a directory batch makes at most
  // OWN_CHECKS_PER_BATCH calls to Twitch itself, a lane COPIES_PER_LANE; each unseals a copy,
  // builds the request, reads and checks the answer.
  // Twitch is the only fake: fetch answers at once, as the stand-in would.
  const copies = await Promise.all(
    Array.from({ length: OWN_CHECKS_PER_BATCH }, async (_, i) => ({
      userId: String(100001 + i),
      sealedAccessToken: await seal(`tok-${100001 + i}`, `user:${100001 + i}:access`, config.tokenKeys),
    })),
  );
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const userId = request.headers.get('Authorization')!.slice('OAuth tok-'.length);
    return new Response(
      JSON.stringify({ client_id: env.TWITCH_CLIENT_ID, login: `user_${userId}`, user_id: userId, scopes: ['user:read:email'], expires_in: 12_000 }),
      {
        headers: { 'Content-Type': 'application/json' },
      },
    );
  };
  try {
    for (const count of [OWN_CHECKS_PER_BATCH, COPIES_PER_LANE]) {
      steps.push(
        await measure(`sweep: ${count} copies validated (one invocation)`, async () => {
          const checked = await checkCopies(config, copies.slice(0, count));
          if (checked.some((check) => check.outcome !== 'alive')) throw new Error('a copy was not validated');
        }),
      );
    }
  } finally {
    globalThis.fetch = realFetch;
  }
  steps.push(await measure('config: getConfig on the same env (cached)', () => getConfig(env)));

  // Whole requests through the Worker's fetch handler, with stubbed bindings (no I/O).
  {
    const appTokenRecord = { sealedAccessToken: sealed, expiresAt: Date.now() + 3_600_000 };
    const userToken = {
      accessToken: 'u'.repeat(30),
      expiresAt: Date.now() + 3_600_000,
      scopes: ['user:read:email'],
      userId: '100001',
      login: 'streamer_alice',
    };
    const stubVault = { getAccessToken: async () => ({ ok: true, token: userToken }) };
    const bindings = {
      ...env,
      APP_TOKEN_CACHE: { get: async () => appTokenRecord },
      USER_VAULT: { idFromName: (name: string) => name, get: () => stubVault },
      APP_TOKEN_MINTER: {},
      ONE_TIME_STORE: {},
      USER_DIRECTORY: {},
    };
    const context = { waitUntil() {}, passThroughOnException() {}, props: {} };
    const request =
      (path: string, headers: Record<string, string> = {}) =>
      async () => {
        const response = await worker.default.fetch(new Request(`http://127.0.0.1:8787${path}`, { headers }), bindings, context);
        if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
        await response.arrayBuffer();
      };
    const requests: Measurement[] = [
      await measure('GET /health', request('/health')),
      await measure('GET /token/app (isolate memory warm)', request('/token/app', { Authorization: `Bearer ${API_KEY}` })),
      await measure('GET /token (bearer session, vault stubbed)', request('/token', { Authorization: `Bearer ${sessionToken}` })),
      await measure('GET /token (cookie session, vault stubbed)', request('/token', { Cookie: `ttb_session=${sessionToken}` })),
      await measure('GET /token/users/:id (vault stubbed)', request('/token/users/100001', { Authorization: `Bearer ${API_KEY}` })),
    ];

    const print = (title: string, rows: Measurement[]) => {
      console.log(`\n${title}`);
      console.log(`  ${''.padEnd(48)}  wall µs/op   CPU µs/op`);
      for (const row of rows) {
        console.log(`  ${row.step.padEnd(48)} ${row.microsecondsPerOp.toFixed(1).padStart(10)} ${row.cpuMicrosecondsPerOp.toFixed(1).padStart(11)}`);
      }
    };
    print('steps of the token paths (Node WebCrypto, sequential)', steps);
    print('whole requests through the Worker fetch handler (bindings stubbed)', requests);
    console.log(
      `\nstart-up: evaluating the bundled Worker took ${evaluationMs.toFixed(1)} ms and made ${calls.length} WebCrypto/fetch calls${calls.length ? `: ${calls.join(', ')}` : ''}`,
    );
    const results = { steps, requests, startup: { evaluationMs, ioOrCryptoCalls: calls } };
    if (!SMOKE)
      writeFileSync(
        join(import.meta.dirname, 'results', 'latest-micro.json'),
        `${JSON.stringify({ at: new Date().toISOString(), node: process.version, ...results }, null, 2)}\n`,
      );
    if (calls.length) process.exitCode = 1;
  }
}

const USAGE = `
Usage: npm run bench:micro

CPU cost per request of the two token paths, step by step and whole, in Node on the Worker's own
code (bundled with esbuild, bindings stubbed), plus a check that evaluating the Worker's modules
does no I/O and derives no key. Writes bench/results/latest-micro.json.

Options:
  -h, --help   print this and exit

Environment: BENCH_SMOKE=1 runs a shrunk version in seconds (figures meaningless, nothing written to bench/results/).
Exit code: 0 measured; 1 evaluating the Worker did I/O or crypto, or the run failed.
`;
parseCli({ script: 'bench:micro', usage: USAGE, options: {} });

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
