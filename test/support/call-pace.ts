import { afterAll, beforeAll } from 'vitest';
import { callPace } from '../../src/twitch/call-pace';

/**
 * The pace the fault tests run the broker's waits around Twitch calls at (src/twitch/call-pace.ts):
 * deadlines, attempt timeouts and backoffs at half their length, and the stand-in's slow answers
 * shrunk alike (test/faults/fault-catalogue.ts), so every "longer than an attempt, inside the
 * deadline" keeps its meaning.
 */
export const FAULT_PACE = 0.5;

/** `ms` of a wait the test expects the broker to make, at FAULT_PACE. */
export const atFaultPace = (ms: number): number => ms * FAULT_PACE;

/** Runs this file's tests with the broker's waits around Twitch calls at FAULT_PACE. */
export function useFaultPace(): void {
  beforeAll(() => {
    callPace.scale = FAULT_PACE;
  });
  afterAll(() => {
    callPace.scale = 1;
  });
}

/**
 * The pace for a test that only sits through a deadline of quick failures (a lasting 503): with no
 * slow answer to keep in proportion, it can go faster than FAULT_PACE.
 */
export const OUTAGE_PACE = 0.1;

/** Runs `run` with the broker's waits around Twitch calls at `scale`, then restores the pace. */
export async function atCallPace<T>(scale: number, run: () => Promise<T>): Promise<T> {
  const before = callPace.scale;
  callPace.scale = scale;
  try {
    return await run();
  } finally {
    callPace.scale = before;
  }
}
