import { env } from 'cloudflare:workers';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { it, vi } from 'vitest';
import { broker } from '../../test/support/broker';
import { resetAll } from '../../test/support/reset';
import { seedUsers, vault } from '../../test/support/seed';
import { twitch } from '../../test/support/twitch';
import { USERS_ONLY_API_KEY } from '../../test/test-bindings';

/**
 * What one idle live connection (GET /token/users/:id/live, a hibernatable WebSocket) costs the
 * broker over a simulated day: the clock is faked and stepped in 5-minute strides, the vault's alarm
 * is run whenever the clock reaches it (as the runtime would), and every alarm, refresh and pushed
 * message is counted, with the wall time each alarm took. Prints one `LIVE_IDLE` JSON line for
 * bench/live-idle.ts to price. Twitch answers at once here; bench/live-idle.ts adds its latency.
 */

const STEP_MS = 5 * 60_000;
/** A simulated day; eight hours in a smoke run (BENCH_SMOKE=1), still two token lifetimes. */
const SIMULATED_HOURS = (env as { BENCH_SMOKE?: string }).BENCH_SMOKE === '1' ? 8 : 24;
const DAY_MS = SIMULATED_HOURS * 3600_000;

it('measures an idle live connection over a simulated day', async () => {
  await resetAll();
  const [userId] = await seedUsers(1, 700001, 0);
  const response = await broker(`/token/users/${userId}/live`, { headers: { Upgrade: 'websocket', Authorization: `Bearer ${USERS_ONLY_API_KEY}` } });
  const socket = response.webSocket!;
  let messages = 0;
  socket.addEventListener('message', () => messages++);
  socket.accept();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const before = { messages, refreshes: (await twitch.counts()).token.refresh_token ?? 0 };

  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  const start = Date.now();
  let alarms = 0;
  let alarmWallMs = 0;
  for (let now = start + STEP_MS; now <= start + DAY_MS; now += STEP_MS) {
    vi.setSystemTime(now);
    const scheduled = await runInDurableObject(vault(userId!), (_instance, ctx) => ctx.storage.getAlarm());
    if (scheduled === null || scheduled > now) continue;
    const began = performance.now();
    if (await runDurableObjectAlarm(vault(userId!))) alarms++;
    alarmWallMs += performance.now() - began;
  }
  vi.useRealTimers();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const refreshes = ((await twitch.counts()).token.refresh_token ?? 0) - before.refreshes;
  socket.close(1000);
  console.log(
    `LIVE_IDLE ${JSON.stringify({ simulatedHours: SIMULATED_HOURS, alarms, refreshes, pushedMessages: messages - before.messages, alarmWallMs: Math.round(alarmWallMs) })}`,
  );
});
