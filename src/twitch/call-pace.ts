/**
 * How fast the broker's own waits around a call to Twitch run: the call's deadline, each attempt's
 * timeout, the backoff between attempts (a 429's wait included, so that it still fits the
 * deadline) and a vault's backoff after a failed refresh. Always 1 in the broker. The
 * fault tests turn it down (test/support/call-pace.ts) so that sitting through a 4 s deadline or a
 * 20 s sweep budget takes a fraction of the time, every wait shrunk alike; what they check (which
 * answer, how many calls, in what order, inside the deadline) does not change. A Ratelimit-Reset
 * passed on to callers (Retry-After) stays in Twitch's real seconds.
 */
export const callPace = { scale: 1 };

/** `ms` of the broker's own waiting, at the current pace. */
export const paced = (ms: number): number => ms * callPace.scale;
