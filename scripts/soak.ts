/**
 * Soak: the real broker (`wrangler dev`) against the local Twitch stand-in on loopback, for a
 * bounded time. Many users log in through the stand-in's consent form, fetch tokens that expire
 * within seconds of the refresh margin (so they refresh all the time), log out and back in,
 * disconnect the app, and meet random faults injected in the stand-in (5xx, 429, resets, hangs,
 * garbage, slow answers) on refresh, validate, mint and revoke, while the sweep and the cron run.
 * At the end, with Twitch healthy again, it checks that
 *   - no user was lost: every user still gets a token, unless they disconnected the app at Twitch;
 *   - no refresh token was presented twice (the stand-in's reuse log is empty);
 *   - no 5xx was served except 503s during (or just after) an injected fault.
 * Exits 1 when a check fails.
 *
 *   npx tsx scripts/soak.ts [--users 150] [--seconds 150] [--concurrency 16]
 */
import { parseCli } from './cli-args';
import { apiKeyFor, startLocalSystem, type LocalSystem } from '../test/e2e/local-system';
import { pkcePair } from '../test/support/pkce';
import { announceSmoke, SMOKE } from '../bench/smoke';
import { randomClientAddress } from './random-address';

const USAGE = `
Usage: npm run soak -- [--users N] [--seconds N] [--concurrency N]

Runs the real broker (wrangler dev, fresh state) against the local Twitch stand-in for a bounded
time: users log in, fetch fast-expiring tokens, log out and back in, disconnect the app, and meet
random faults injected at Twitch, while the sweep and the cron run. Then, with Twitch healthy
again, checks that no user was lost, no refresh token was presented twice, and no 5xx was served
outside an injected fault.

Options:
  --users N        test users logged in (default: 150, at most 5000)
  --seconds N      seconds of load after they logged in (default: 150, at most 86400)
  --concurrency N  clients in parallel (default: 16, at most 256)
  -h, --help       print this and exit

Environment: BENCH_SMOKE=1 runs a shrunk version in seconds (figures meaningless, nothing written to bench/results/).
Exit code: 0 every check passed; 1 a check failed (each violation is listed) or the system did not start; 2 bad arguments.
`;

const { values: flags } = parseCli({
  script: 'soak',
  usage: USAGE,
  rules: { users: { min: 1, max: 5000 }, seconds: { min: 1, max: 86_400 }, concurrency: { min: 1, max: 256 } },
  options: {
    users: { type: 'string', default: '150' },
    seconds: { type: 'string', default: '150' },
    concurrency: { type: 'string', default: '16' },
  },
});
// A smoke run (BENCH_SMOKE=1, bench/smoke.ts): a few users for a few seconds, whatever the arguments asked for.
const USERS = SMOKE ? 6 : Number(flags.users);
const LOAD_MS = (SMOKE ? 6 : Number(flags.seconds)) * 1000;
const CONCURRENCY = SMOKE ? 3 : Number(flags.concurrency);
const FIRST_USER_ID = 700_001;
const API_KEY = apiKeyFor('soak');
/** Tokens last 20 s beyond the broker's 5-minute refresh margin: each user refreshes every ~20 s. */
const USER_TOKEN_TTL_SECONDS = 320;
/** A 503 this soon after a fault was queued or in place is the broker reporting that fault. */
const OUTAGE_GRACE_MS = 8_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1));

interface SoakUser {
  userId: string;
  sessionToken: string | null;
  /** Disconnected the app at Twitch: a 401 reauthorization_required is the right answer. */
  disconnected: boolean;
  busy: boolean;
}

const figures = {
  requests: 0,
  statuses: new Map<string, number>(),
  logins: 0,
  relogins: 0,
  logouts: 0,
  disconnects: 0,
  sweeps: 0,
  crons: 0,
  faultsInjected: new Map<string, number>(),
  outages: 0,
  servedDuringOutage503: 0,
  violations: [] as string[],
};
let lastFaultSeenAt = 0;

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Starts the system, soaks it, and stops it whatever happens (no wrangler left behind). */
async function main(): Promise<void> {
  announceSmoke();
  const system = await startLocalSystem('soak');
  try {
    await soak(system);
  } finally {
    await system.stop();
  }
}

async function soak(system: LocalSystem): Promise<void> {
  const startedAt = Date.now();
  const { twitch, broker } = system;
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${twitch.url}/_standin${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`stand-in ${method} ${path}: ${response.status}`);
    return response.json() as Promise<Record<string, unknown>>;
  };

  /** One call to the broker, counted; a 5xx that no injected fault explains is a violation. */
  async function call(what: string, path: string, init: RequestInit = {}): Promise<Response> {
    // Many users on the internet, not one address: the login rate limit is per address (an IPv6 /64).
    const headers = new Headers(init.headers);
    headers.set('CF-Connecting-IP', randomClientAddress());
    const response = await fetch(`${broker.url}${path}`, { ...init, headers, redirect: 'manual' });
    figures.requests++;
    count(figures.statuses, `${what} ${response.status}`);
    if (response.status >= 500) {
      const explained = response.status === 503 && Date.now() - lastFaultSeenAt < OUTAGE_GRACE_MS;
      if (explained) figures.servedDuringOutage503++;
      else figures.violations.push(`${what} answered ${response.status} with no fault in place: ${(await response.clone().text()).slice(0, 300)}`);
    }
    return response;
  }

  /** The browser flow: /authorize, the stand-in's consent form, /callback, then POST /session. */
  async function logIn(user: SoakUser): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const pkce = await pkcePair();
      const authorize = await call('authorize', `/authorize?code_challenge=${pkce.challenge}&code_challenge_method=S256`);
      const loginCookie = authorize.headers
        .getSetCookie()
        .map((cookie) => cookie.split(';')[0])
        .join('; ');
      const consentLocation = authorize.headers.get('Location');
      if (consentLocation === null) {
        // Not a redirect: the login limit (429) or a judged 5xx; a person would try again shortly.
        await sleep(500);
        continue;
      }
      const consentUrl = new URL(consentLocation);
      const form = new URLSearchParams(consentUrl.searchParams);
      form.set('user_id', user.userId);
      form.set('decision', 'allow');
      const approved = await fetch(`${twitch.url}/oauth2/authorize`, {
        method: 'POST',
        body: form,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        redirect: 'manual',
      });
      const callbackLocation = approved.headers.get('Location');
      if (callbackLocation === null) {
        count(figures.statuses, `consent answered ${approved.status}`);
        await sleep(500);
        continue;
      }
      const callback = new URL(callbackLocation);
      const landed = await call('callback', `${callback.pathname}${callback.search}`, { headers: { Cookie: loginCookie } });
      const backLocation = landed.headers.get('Location');
      if (backLocation === null) {
        await sleep(500);
        continue;
      }
      const back = new URL(backLocation);
      const sessionCode = back.searchParams.get('session_code');
      if (!sessionCode) {
        // Twitch failed the exchange: the app sends the user to try again, as a person would.
        count(figures.statuses, `callback sent back with ${back.searchParams.get('error')}`);
        await sleep(500);
        continue;
      }
      const session = await call('session', '/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ session_code: sessionCode, code_verifier: pkce.verifier }),
      });
      if (session.status !== 200) continue; // counted (and judged) by call()
      user.sessionToken = ((await session.json()) as { session_token: string }).session_token;
      user.disconnected = false;
      return;
    }
    figures.violations.push(`user ${user.userId} could not log in in 20 attempts`);
  }

  /** GET /token for a user, judged: 200, or 401 only for a user who disconnected the app. */
  async function fetchToken(user: SoakUser, what = 'token'): Promise<number> {
    const response = await call(what, '/token', { headers: { Authorization: `Bearer ${user.sessionToken}` } });
    if (response.status === 401) {
      const body = (await response.json()) as { error: string };
      if (!user.disconnected) figures.violations.push(`user ${user.userId} lost: ${what} answered 401 ${body.error}`);
    }
    return response.status;
  }

  await control('POST', '/users/bulk', { count: USERS, startId: FIRST_USER_ID });
  await control('POST', '/config', { userAccessTokenTtlSeconds: USER_TOKEN_TTL_SECONDS });
  const users: SoakUser[] = Array.from({ length: USERS }, (_, i) => ({
    userId: String(FIRST_USER_ID + i),
    sessionToken: null,
    disconnected: false,
    busy: false,
  }));
  for (let i = 0; i < users.length; i += CONCURRENCY) {
    await Promise.all(
      users.slice(i, i + CONCURRENCY).map(async (user) => {
        await logIn(user);
        figures.logins++;
      }),
    );
  }
  console.log(`${USERS} users logged in after ${((Date.now() - startedAt) / 1000).toFixed(0)} s; load for ${LOAD_MS / 1000} s`);

  const loadEndsAt = Date.now() + LOAD_MS;
  const running = () => Date.now() < loadEndsAt;

  /** Random faults: a few spoiled calls now and then, and short outages that last until cleared. */
  async function chaos(): Promise<void> {
    const targets = [
      { path: '/oauth2/token', grantType: 'refresh_token' },
      { path: '/oauth2/token', grantType: 'refresh_token' },
      { path: '/oauth2/validate' },
      { path: '/oauth2/token', grantType: 'client_credentials' },
      { path: '/oauth2/revoke' },
      { path: '/oauth2/token', grantType: 'authorization_code' },
    ];
    const faults = [
      { kind: 'status', status: 500 },
      { kind: 'status', status: 502 },
      { kind: 'status', status: 503 },
      { kind: 'status', status: 429, retryAfterSeconds: 2 },
      { kind: 'reset' },
      { kind: 'hang' },
      { kind: 'garbage' },
      { kind: 'slow', delayMs: 1_500 },
    ];
    while (running()) {
      await sleep(between(1_500, 4_000));
      const target = pick(targets);
      const fault = pick(faults);
      const outage = Math.random() < 0.2;
      await control('POST', '/faults', { ...target, ...fault, times: outage ? -1 : between(1, 5) });
      lastFaultSeenAt = Date.now();
      count(figures.faultsInjected, `${fault.kind}${'status' in fault ? ` ${fault.status}` : ''}`);
      if (outage) {
        figures.outages++;
        await sleep(between(2_000, 6_000));
        await control('DELETE', '/faults');
        lastFaultSeenAt = Date.now();
      }
    }
  }

  /** Notes when queued faults are still waiting, so a 503 while they last is attributed to them. */
  async function watchFaults(): Promise<void> {
    while (running()) {
      const { faults } = (await control('GET', '/faults')) as { faults: unknown[] };
      if (faults.length > 0) lastFaultSeenAt = Date.now();
      await sleep(250);
    }
  }

  /** The hourly machinery, sped up: an operator's sweep and the cron, now and then. */
  async function sweeps(): Promise<void> {
    while (running()) {
      await sleep(between(8_000, 15_000));
      if (!running()) break;
      // Some tokens die at Twitch between sweeps; the sweep must notice and refresh them.
      for (let i = 0; i < 5; i++) await control('POST', '/expire', { user_id: pick(users).userId });
      if (Math.random() < 0.5) {
        await call('admin sweep', '/admin/sweep', { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } });
        figures.sweeps++;
      } else {
        await call('cron', `/__scheduled?cron=${encodeURIComponent('0 * * * *')}`);
        figures.crons++;
      }
    }
  }

  async function worker(): Promise<void> {
    while (running()) {
      const idle = users.filter((user) => !user.busy);
      if (idle.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 10)); // more workers than users
        continue;
      }
      const user = pick(idle);
      user.busy = true;
      try {
        const roll = Math.random();
        if (roll < 0.8) await fetchToken(user);
        else if (roll < 0.9) {
          const response = await call('token/users', `/token/users/${user.userId}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
          if (response.status === 401 && !user.disconnected) figures.violations.push(`user ${user.userId} lost at /token/users`);
        } else if (roll < 0.98) {
          await call('token/app', `/token/app${Math.random() < 0.1 ? '?force_refresh=true' : ''}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
        } else if (roll < 0.992) {
          const response = await call('logout', '/logout', { method: 'POST', headers: { Authorization: `Bearer ${user.sessionToken}` } });
          if (response.status === 200) figures.logouts++;
          await logIn(user);
          figures.relogins++;
        } else if (roll < 0.995 && !user.disconnected) {
          await control('POST', '/disconnect', { user_id: user.userId });
          user.disconnected = true;
          figures.disconnects++;
        } else if (user.disconnected) {
          await logIn(user);
          figures.relogins++;
        } else await fetchToken(user);
      } finally {
        user.busy = false;
      }
    }
  }

  await Promise.all([chaos(), watchFaults(), sweeps(), ...Array.from({ length: CONCURRENCY }, worker)]);

  // Twitch healthy again: every user the broker should still serve gets a token.
  await control('DELETE', '/faults');
  await sleep(OUTAGE_GRACE_MS);
  let served = 0;
  let revoked = 0;
  for (const user of users) {
    const status = await fetchToken(user, 'final token');
    if (status === 200) served++;
    else if (status === 401 && user.disconnected) revoked++;
    else figures.violations.push(`user ${user.userId}: final /token answered ${status}`);
  }
  const reuse = (await control('GET', '/refresh-token-reuse')) as { reused: string[] };
  if (reuse.reused.length > 0) figures.violations.push(`${reuse.reused.length} refresh tokens were presented twice`);
  const { counts } = (await control('GET', '/calls')) as { counts: { token: Record<string, number>; validate: number; revoke: number } };

  console.log(
    `\nsoak: ${USERS} users, ${CONCURRENCY} concurrent clients, ${LOAD_MS / 1000} s of load, ${((Date.now() - startedAt) / 1000).toFixed(0)} s in all`,
  );
  console.log(`  requests to the broker: ${figures.requests}`);
  console.log('  answers:');
  for (const [key, value] of [...figures.statuses].sort()) console.log(`    ${key}: ${value}`);
  console.log(`  logins ${figures.logins}, re-logins ${figures.relogins}, logouts ${figures.logouts}, disconnects at Twitch ${figures.disconnects}`);
  console.log(`  admin sweeps ${figures.sweeps}, crons ${figures.crons}`);
  console.log(
    `  at Twitch: refreshes ${counts.token.refresh_token}, code exchanges ${counts.token.authorization_code}, app mints ${counts.token.client_credentials}, validates ${counts.validate}, revokes ${counts.revoke}`,
  );
  console.log(`  faults injected: ${[...figures.faultsInjected].map(([kind, n]) => `${kind} ×${n}`).join(', ')} (${figures.outages} lasting outages)`);
  console.log(`  503s during injected faults: ${figures.servedDuringOutage503}`);
  console.log(`  final check: ${served} users served a token, ${revoked} legitimately revoked (disconnected), refresh-token reuse ${reuse.reused.length}`);
  if (figures.violations.length > 0) {
    console.log(`\nFAILED: ${figures.violations.length} violations`);
    for (const violation of figures.violations.slice(0, 30)) console.log(`  - ${violation}`);
    process.exitCode = 1;
  } else {
    console.log('\nOK: no user lost, no refresh token used twice, no 5xx outside injected faults');
  }
}

main().then(
  // Keep-alive sockets and the stand-in's hang timers would keep Node alive after the report.
  () => process.exit(),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
