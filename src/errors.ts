import type { TokenFailure } from './vault/vault-types';

/**
 * Errors with a stable wire code. The wire body is always
 * `{"error": code, "error_description": description}`; the description never carries a secret.
 */
export class BrokerError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 414 | 415 | 426 | 429 | 431 | 500 | 502 | 503,
    readonly code: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
    /** Extra fields of the body beside `error` and `error_description` (e.g. `missing_scopes`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${code}: ${description}`);
    this.name = 'BrokerError';
  }

  /** The JSON body every error response carries. */
  toBody(): { error: string; error_description: string } & Record<string, unknown> {
    return { error: this.code, error_description: this.description, ...this.extra };
  }

  /** Renders the error as a Response (used outside Hono, e.g. in the entry point). */
  toResponse(): Response {
    return Response.json(this.toBody(), {
      status: this.status,
      headers: { 'Cache-Control': 'no-store', ...this.headers },
    });
  }
}

/** A required setting is missing or malformed: names the setting, never its value. */
export class ConfigError extends BrokerError {
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(500, 'server_misconfigured', `${setting} ${problem}`);
    this.name = 'ConfigError';
  }
}

/** 400 for input that fails validation. */
export const invalidRequest = (description: string): BrokerError => new BrokerError(400, 'invalid_request', description);

/** 401 for a missing or bad session or API key. */
export const unauthorized = (description: string): BrokerError => new BrokerError(401, 'unauthorized', description);

/** 401 when the user's grant is gone at Twitch and only a new login can help. */
export const reauthorizationRequired = (): BrokerError =>
  new BrokerError(401, 'reauthorization_required', 'Twitch no longer accepts this grant; send the user through /authorize again');

/** A user that never logged in, as server-side callers are told. */
export const unknownUser = (): BrokerError => new BrokerError(404, 'not_found', 'no grant is stored for this user');

/** 503 when Twitch is failing and no valid token is left to serve. */
export const temporarilyUnavailable = (retryAfterSeconds: number): BrokerError =>
  new BrokerError(503, 'temporarily_unavailable', 'Twitch is not answering; try again shortly', {
    'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });

/** 426 for the live route opened other than as a WebSocket. */
export const upgradeRequired = (): BrokerError => new BrokerError(426, 'upgrade_required', 'open this URL as a WebSocket', { Upgrade: 'websocket' });

/** Why a user has no token to serve, as the error callers get; `whenMissing` for a user with no grant. */
export function tokenFailureError(failure: TokenFailure, whenMissing: BrokerError): BrokerError {
  switch (failure.error) {
    case 'reauthorization_required':
      return reauthorizationRequired();
    case 'temporarily_unavailable':
      return temporarilyUnavailable(failure.retryAfterSeconds);
    case 'session_revoked':
      return unauthorized('the session has been revoked');
    case 'not_found':
      return whenMissing;
  }
}
