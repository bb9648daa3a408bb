import { recordTwitchError } from '../metrics/metrics';
import { paced } from './call-pace';
import { TwitchError } from './twitch-error';

/** How long one logical call to Twitch may take, retries included. */
export interface CallBudget {
  /** Total time for all attempts. Request paths stay within a few seconds; the cron may wait longer. */
  deadlineMs: number;
  /** Time for one attempt, capped by what is left of the deadline. */
  attemptTimeoutMs: number;
  /**
   * Whether an attempt that may have reached Twitch (timeout, unreadable 200) may be repeated.
   * False for refreshes: Twitch may have rotated the refresh token already, and a retry with the
   * old one would come back "Invalid refresh token" for a grant that is alive.
   */
  retryAmbiguous: boolean;
  /** At most this many attempts (default: as many as the deadline allows). */
  maxAttempts?: number;
}

/** The budget for calls made while a caller waits. */
export const REQUEST_BUDGET: CallBudget = { deadlineMs: 4_000, attemptTimeoutMs: 2_500, retryAmbiguous: true };
/** The budget for the background sweep. */
export const BACKGROUND_BUDGET: CallBudget = { deadlineMs: 20_000, attemptTimeoutMs: 8_000, retryAmbiguous: true };

const BASE_BACKOFF_MS = 150;
const MAX_BACKOFF_MS = 2_000;

/** A successful answer from Twitch: status and parsed JSON (null for an empty body). */
export interface TwitchAnswer {
  status: number;
  body: unknown;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Capped exponential backoff with full jitter. */
const backoffMs = (attempt: number): number => Math.random() * Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** attempt);

/** Seconds until the `Ratelimit-Reset` epoch, if Twitch sent one. */
function rateLimitResetSeconds(response: Response, now: number): number | null {
  const reset = Number(response.headers.get('Ratelimit-Reset'));
  return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset - now / 1000) : null;
}

/** Reads Twitch's `{status, message}` error body without trusting it. */
async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') {
      return body.message.slice(0, 200);
    }
  } catch {
    // not JSON: fall through to the status text
  }
  return response.statusText || `HTTP ${response.status}`;
}

/** One attempt: throws a TwitchError, marked `ambiguous` when Twitch may have acted on it. */
async function attempt(makeRequest: () => Request, timeoutMs: number): Promise<TwitchAnswer> {
  // A timer of our own, cleared as soon as the answer is read: `AbortSignal.timeout()` keeps its
  // timer running for the whole timeout, and a pending timer keeps a Durable Object from
  // hibernating, so every call to Twitch would be billed as 8 s (the sweep's attempt timeout).
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('timed out', 'TimeoutError')), timeoutMs);
  try {
    return await readAnswer(makeRequest, controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends the request and reads its answer (see `attempt`). */
async function readAnswer(makeRequest: () => Request, signal: AbortSignal): Promise<TwitchAnswer> {
  let response: Response;
  try {
    response = await fetch(makeRequest(), { signal });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    // A dropped connection is as ambiguous as a timeout: the request may have reached Twitch and
    // rotated a refresh token before the socket died, so it must not be repeated for a refresh.
    throw new TwitchError('unavailable', 0, timedOut ? 'timed out' : 'connection failed', 1, true);
  }
  if (response.ok) {
    const text = await response.text().catch(() => null);
    if (text === null) throw new TwitchError('unavailable', response.status, 'body lost', 1, true);
    if (text === '') return { status: response.status, body: null };
    try {
      return { status: response.status, body: JSON.parse(text) };
    } catch {
      throw new TwitchError('unavailable', response.status, 'unreadable body', 1, true);
    }
  }
  const message = await errorMessage(response);
  if (response.status === 429) {
    const resetIn = rateLimitResetSeconds(response, Date.now()) ?? 1;
    throw new TwitchError('unavailable', 429, message, resetIn);
  }
  if (response.status >= 500) {
    throw new TwitchError('unavailable', response.status, message);
  }
  throw new TwitchError('rejected', response.status, message);
}

/**
 * Calls Twitch, retrying transient failures with capped exponential backoff and jitter inside the
 * budget's deadline, and honouring 429 `Ratelimit-Reset` when it falls inside the deadline. A call
 * that fails for want of an answer is counted in the metrics, by endpoint path (never the query).
 */
export async function callTwitch(makeRequest: () => Request, budget: CallBudget): Promise<TwitchAnswer> {
  try {
    return await callWithRetries(makeRequest, budget);
  } catch (error) {
    recordTwitchError(new URL(makeRequest().url).pathname, error);
    throw error;
  }
}

async function callWithRetries(makeRequest: () => Request, budget: CallBudget): Promise<TwitchAnswer> {
  const deadline = Date.now() + paced(budget.deadlineMs);
  for (let attemptNumber = 0; ; attemptNumber++) {
    const remaining = deadline - Date.now();
    // A call that may not be repeated after a timeout gains nothing from cutting an attempt short:
    // a slow answer that arrives inside the deadline must still count (e.g. a 3 s refresh).
    const attemptTimeoutMs = budget.retryAmbiguous ? Math.min(paced(budget.attemptTimeoutMs), remaining) : remaining;
    try {
      return await attempt(makeRequest, Math.max(1, attemptTimeoutMs));
    } catch (error) {
      if (!(error instanceof TwitchError) || error.kind === 'rejected') throw error;
      if (error.ambiguous && !budget.retryAmbiguous) throw error;
      if (attemptNumber + 1 >= (budget.maxAttempts ?? Infinity)) throw error;
      const waitMs = error.status === 429 ? error.retryAfterSeconds * 1000 : backoffMs(attemptNumber);
      // Give up when the wait (plus a minimal attempt) no longer fits: the caller answers 503.
      if (Date.now() + paced(waitMs + 100) > deadline) {
        throw new TwitchError('unavailable', error.status, error.twitchMessage, Math.max(1, waitMs / 1000));
      }
      await sleep(paced(waitMs));
    }
  }
}
