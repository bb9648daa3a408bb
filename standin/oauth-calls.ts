import type { Context, MiddlewareHandler, Next } from 'hono';
import { ConnectionResetError, buildFaultResponse, waitUnlessAborted, type QueuedFault } from './faults';
import { MalformedBodyError, paramValue, readOAuthParams, twitchError, type StandinEnv } from './http';
import type { StandinState } from './state';

// Thrown when the caller gave up on a hanging or slow call: there is nobody left to answer.
function abortedByCaller(): DOMException {
  return new DOMException('The caller aborted the request', 'AbortError');
}

/** Errors that mean "send no response at all"; the app's error handler must let them through. */
export function isNoResponseError(error: unknown): boolean {
  return error instanceof ConnectionResetError || (error instanceof DOMException && error.name === 'AbortError');
}

/**
 * Wraps every /oauth2 call: parses its parameters once, applies the first matching queued fault,
 * and records the call (status 0 when no response was sent).
 */
export function oauthCallMiddleware(state: StandinState): MiddlewareHandler<StandinEnv> {
  return async (c, next) => {
    const at = state.now();
    const method = c.req.method;
    const path = c.req.path;
    let params: URLSearchParams;
    try {
      params = await readOAuthParams(c.req.raw);
    } catch (error) {
      if (!(error instanceof MalformedBodyError)) throw error;
      state.calls.record({ method, path, status: 400, at });
      return twitchError(400, error.message);
    }
    c.set('oauthParams', params);
    const grantType = path === '/oauth2/token' ? paramValue(params, 'grant_type') : undefined;
    const recordCall = (status: number) => state.calls.record({ method, path, ...(grantType === undefined ? {} : { grantType }), status, at });

    const fault = state.faults.takeMatching(path, grantType ?? null);
    try {
      const response = fault === null ? await answerNormally(c, next) : await answerWithFault(c, next, fault, state);
      if (response !== c.res) c.res = response;
      recordCall(c.res.status);
      return c.res;
    } catch (error) {
      recordCall(0);
      throw error;
    }
  };
}

async function answerNormally(c: Context<StandinEnv>, next: Next): Promise<Response> {
  await next();
  return c.res;
}

/** Answers one call as its fault says (also used for Helix paths a fault names). */
export async function answerWithFault(c: Context<StandinEnv>, next: Next, fault: QueuedFault, state: StandinState): Promise<Response> {
  // An `after` fault lets the real work happen first, like Twitch rotating a token and the answer then being lost.
  const answeredForReal = fault.phase === 'after' ? await answerNormally(c, next) : undefined;
  const answerForReal = async () => answeredForReal ?? answerNormally(c, next);
  const signal = c.req.raw.signal;

  switch (fault.kind) {
    case 'status':
    case 'garbage':
      return buildFaultResponse(fault, state.now());
    case 'reset':
      // The Node host hands us the socket: destroying it is a real connection reset. Either way no answer is sent.
      c.env.incoming?.socket?.destroy();
      throw new ConnectionResetError();
    case 'hang':
      if ((await waitUnlessAborted(state.hangTimeoutMs, signal)) === 'aborted') throw abortedByCaller();
      // Giving up keeps a forgotten fault from leaking a pending request (and its timers) forever.
      return twitchError(504, 'Gateway Timeout');
    case 'slow':
      if ((await waitUnlessAborted(fault.delayMs, signal)) === 'aborted') throw abortedByCaller();
      return answerForReal();
  }
}
