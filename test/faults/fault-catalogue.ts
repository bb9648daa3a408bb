import { expect } from 'vitest';
import { atFaultPace } from '../support/call-pace';
import type { Fault, StandinCall } from '../support/twitch';
import { twitch } from '../support/twitch';

/**
 * The ways Twitch misbehaves, shared by every operation's fault matrix. `ambiguous`: Twitch may
 * have acted although we saw no usable answer, so single-use requests (a code exchange, a refresh)
 * must not be repeated after it.
 */
export interface FaultCase {
  name: string;
  fault: Omit<Fault, 'path' | 'grantType' | 'times'>;
  ambiguous: boolean;
}

export const FAULTS = {
  status500: { name: '500', fault: { kind: 'status', status: 500 }, ambiguous: false },
  status502: { name: '502', fault: { kind: 'status', status: 502 }, ambiguous: false },
  status503: { name: '503', fault: { kind: 'status', status: 503 }, ambiguous: false },
  rateLimited: { name: '429 with a 1 s Ratelimit-Reset', fault: { kind: 'status', status: 429, retryAfterSeconds: 1 }, ambiguous: false },
  reset: { name: 'a connection reset', fault: { kind: 'reset' }, ambiguous: true },
  hang: { name: 'an answer that never comes', fault: { kind: 'hang' }, ambiguous: true },
  garbage: { name: 'a 200 with a non-JSON body', fault: { kind: 'garbage' }, ambiguous: true },
  // Slow answers are timed against the broker's paced waits (test/support/call-pace.ts).
  slow: { name: 'a 1.5 s answer', fault: { kind: 'slow', delayMs: atFaultPace(1_500) }, ambiguous: false },
  verySlow: { name: 'a 3 s answer (longer than one attempt, inside the deadline)', fault: { kind: 'slow', delayMs: atFaultPace(3_000) }, ambiguous: false },
} satisfies Record<string, FaultCase>;

/** Faults that a retry gets past: Twitch answered, and said nothing was done. */
export const RETRYABLE: FaultCase[] = [FAULTS.status500, FAULTS.status502, FAULTS.status503, FAULTS.rateLimited];
/** Faults after which nothing is known about what Twitch did. */
export const AMBIGUOUS: FaultCase[] = [FAULTS.reset, FAULTS.hang, FAULTS.garbage];
/** Every fault that makes the call fail outright when it never stops. */
export const FAILING: FaultCase[] = [...RETRYABLE.slice(0, 3), ...AMBIGUOUS];

/** How long a caller on a request path may wait in total, retries included (the budget is 4 s, paced). */
export const REQUEST_PATH_LIMIT_MS = atFaultPace(6_000);

/** Queues `fault` on one Twitch endpoint for `times` calls (-1: until cleared). */
export async function injectFault(where: Pick<Fault, 'path' | 'grantType'>, faultCase: FaultCase, times: number): Promise<void> {
  await twitch.inject({ ...where, ...faultCase.fault, times });
}

/** Times a call. */
export async function timed<T>(run: () => Promise<T>): Promise<{ result: T; elapsedMs: number }> {
  const startedAt = Date.now();
  const result = await run();
  return { result, elapsedMs: Date.now() - startedAt };
}

/** The calls the stand-in saw on one endpoint (and grant type), oldest first. */
export async function callsTo(path: string, grantType?: string): Promise<StandinCall[]> {
  const calls = await twitch.calls();
  return calls.filter((call) => call.path === path && (grantType === undefined || call.grantType === grantType));
}

/** Checks a 429's Ratelimit-Reset was honoured: the retry came no sooner than the reset second. */
export function expectRetryHonouredReset(calls: StandinCall[]): void {
  expect(calls.length).toBeGreaterThanOrEqual(2);
  // Ratelimit-Reset is a whole epoch second, at most 1 s plus rounding after the 429; the broker
  // waits for it at the fault tests' pace.
  expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(atFaultPace(900));
}
