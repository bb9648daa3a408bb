/**
 * `BENCH_SMOKE=1`: every bench entry point (and the soak) runs with counts and durations shrunk so
 * it finishes in seconds, prints its figures as usual, judges no timed target and writes nothing
 * to bench/results/. test/scripts/bench-smoke.node.test.ts runs each this way so none can rot.
 * An environment variable rather than a flag: the scripts' own arguments stay theirs.
 */
export const SMOKE = process.env.BENCH_SMOKE === '1';

/** Says once, at the start, that this run is a smoke run and its figures mean nothing. */
export function announceSmoke(): void {
  if (SMOKE) console.log('BENCH_SMOKE=1: smoke run (counts and durations shrunk; figures are not meaningful)');
}
