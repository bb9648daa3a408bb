/**
 * How a call to Twitch failed. `rejected`: Twitch answered with a definitive 4xx (other than 429)
 * and its `{status, message}` body. `unavailable`: a 5xx, a 429, a timeout, a dropped connection or
 * an unreadable body: nothing about the grant may be concluded from it.
 */
export class TwitchError extends Error {
  constructor(
    readonly kind: 'rejected' | 'unavailable',
    readonly status: number,
    /** Twitch's own message (e.g. "Invalid refresh token"); never contains a token. */
    readonly twitchMessage: string,
    /** When Twitch (429 Ratelimit-Reset) or our backoff says to come back, in seconds. */
    readonly retryAfterSeconds = 5,
    /** True when Twitch may have acted on the request although we saw no answer (timeout, lost body). */
    readonly ambiguous = false,
  ) {
    super(`Twitch ${kind} (${status}): ${twitchMessage}`);
    this.name = 'TwitchError';
  }

  /** Twitch's definitive "this refresh token is dead": 400 Invalid refresh token, or 401. */
  get isDeadRefreshToken(): boolean {
    return this.kind === 'rejected' && (this.status === 401 || (this.status === 400 && /invalid refresh token/i.test(this.twitchMessage)));
  }
}

/** A failure reason fit for logs: Twitch's status and message, or a config error's text; never a token. */
export function describeFailure(error: unknown): string {
  if (error instanceof TwitchError) return `${error.kind} ${error.status} ${error.twitchMessage}`;
  if (error instanceof Error) return error.name === 'ConfigError' ? error.message : error.name;
  return 'unknown';
}
